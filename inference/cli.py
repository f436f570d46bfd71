"""``python -m inference``: run a request, print its exact prompt, or build the tiny test model.

Every error an operator can cause ends in one sentence on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from inference.errors import InferenceError, InvalidRequestError
from inference.extraction import DEFAULT_MAX_BYTES, check_size, extract_text, text_bound
from inference.loading import DEFAULT_QUANTIZATION, QUANTIZATION_MODES, force_offline
from inference.prompting import DOMAIN_TEMPLATES
from inference.report import format_result
from inference.types import DEFAULT_CONTEXT_LIMIT, Document, GenerationSettings, Progress, ReasoningRequest

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="reason about a question and print thinking, answer and provenance")
    _request_arguments(run)
    run.add_argument("--quantization", choices=QUANTIZATION_MODES, default=DEFAULT_QUANTIZATION)
    run.add_argument("--device", help="cpu or cuda:N (default: $GLASSBOX_DEVICE, else cuda:0 with a GPU, else cpu)")
    run.add_argument("--json", action="store_true", help="print the whole result as JSON")
    run.add_argument("--stream", action="store_true", help="show the trace on stderr as it grows")

    prompt = commands.add_parser("prompt", help="print the exact prompt as JSON with its token ids")
    _request_arguments(prompt)

    tiny = commands.add_parser("make-tiny-model", help="write the tiny random TEST model into DIR")
    tiny.add_argument("directory", type=Path)
    tiny.add_argument("--seed", type=int, default=1234)
    tiny.add_argument(
        "--tokenizer", choices=("hf", "tekken"), default="hf", help="HF tokenizer files, or tekken.json only"
    )
    return parser


def _request_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = GenerationSettings()
    parser.add_argument("question")
    parser.add_argument("--model", help="model directory (default: $MAGISTRAL_MODEL_PATH)")
    parser.add_argument("--domain", required=True, help=f"one of {', '.join(DOMAIN_TEMPLATES)}")
    parser.add_argument("--document", action="append", type=Path, default=[], metavar="FILE")
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--thinking-budget", type=int, default=defaults.thinking_budget)
    parser.add_argument("--answer-budget", type=int, default=defaults.answer_budget)
    parser.add_argument("--context-limit", type=int, default=DEFAULT_CONTEXT_LIMIT)


def _read_document(path: Path, max_chars: int | None) -> Document:
    """Read ``path`` as the web form reads an upload (``inference.extraction``), with the same refusals."""
    try:
        with path.open("rb") as file:
            check_size(path.name, os.fstat(file.fileno()).st_size, DEFAULT_MAX_BYTES)  # before reading it
            data = file.read(DEFAULT_MAX_BYTES + 1)
    except FileNotFoundError:
        raise InvalidRequestError("documents", f"There is no document file at {path}.") from None
    except OSError as exc:
        raise InvalidRequestError("documents", f"The document {path} cannot be read ({exc.strerror}).") from None
    return Document(name=path.name, text=extract_text(path.name, data, DEFAULT_MAX_BYTES, max_chars).text)


def _request(args: argparse.Namespace) -> ReasoningRequest:
    settings = GenerationSettings(
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        thinking_budget=args.thinking_budget,
        answer_budget=args.answer_budget,
    )
    free_tokens = args.context_limit - settings.thinking_budget - settings.answer_budget
    # Budgets that leave no room are refused by validate_request with their own sentence.
    max_chars = text_bound(free_tokens) if free_tokens > 0 else None
    documents = tuple(_read_document(path, max_chars) for path in args.document)
    return ReasoningRequest(domain=args.domain, question=args.question, documents=documents, settings=settings)


def _print_progress(progress: Progress) -> None:
    sys.stderr.write(progress.thinking_delta + progress.answer_delta)
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    force_offline()
    try:
        return _dispatch(args)
    except InferenceError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _dispatch(args: argparse.Namespace) -> int:
    from inference.engine import Engine, PromptBuilder
    from inference.prompting import validate_request

    if args.command == "make-tiny-model":
        return _make_tiny_model(args.directory, args.seed, args.tokenizer)
    request = _request(args)
    validate_request(request)  # fail on bad input before any file is opened
    prompts = PromptBuilder.open(args.model, args.context_limit)
    prompt = prompts.render(request)  # a prompt over the context limit fails before the weights load
    if args.command == "prompt":
        print(json.dumps(prompt.to_dict(), indent=2, ensure_ascii=False))
        return 0
    engine = Engine.from_prompts(prompts, args.quantization, device=args.device)
    result = engine.generate(request, on_progress=_print_progress if args.stream else None)
    if args.stream:
        sys.stderr.write("\n")
    print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) if args.json else format_result(result))
    return 0


def _make_tiny_model(directory: Path, seed: int, tokenizer: Literal["hf", "tekken"]) -> int:
    from inference.hashing import combined_digest, hash_files
    from inference.model_dir import inspect_model_dir
    from inference.tiny_model import make_tiny_model

    try:
        path = make_tiny_model(directory.expanduser().resolve(), seed, tokenizer)
    except OSError as exc:
        print(f"error: cannot write the tiny model to {directory} ({exc.strerror}).", file=sys.stderr)
        return EXIT_USAGE
    files = inspect_model_dir(path)
    print(f"Wrote a tiny random TEST MODEL (not Magistral; its output is noise) to {path}")
    print(f"weights sha256: {combined_digest(hash_files(path, files.weight_files))}")
    return 0
