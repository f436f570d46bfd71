"""Build Magistral's prompt: its system prompt, a versioned domain preamble, named documents, the question.

The system part keeps its real control tokens; everything a user supplied (question, document
texts and names) is encoded as plain text, the way mistral-common encodes user content, so a
literal ``[INST]`` or ``</s>`` is ordinary tokens. The text shown to auditors is decoded from
the ids, never re-encoded.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import Any

from inference.errors import ContextLimitError, InvalidRequestError, NotMagistralError
from inference.hashing import sha256_text
from inference.limits import SEED_MAX, TEMPERATURE_MAX, TOP_P_MAX
from inference.model_dir import ModelFiles
from inference.tokenizer import END_THINK, THINK
from inference.types import GenerationSettings, ReasoningRequest, RenderedPrompt

# Domain → current template id. A new wording gets a new version file; old ids stay loadable
# so a recorded run can always be traced to the exact preamble it used.
DOMAIN_TEMPLATES = {"legal": "legal/v1", "finance": "finance/v1", "clinical": "clinical/v1"}
BUILT_IN_SYSTEM_PROMPT = "built-in copy of Magistral Small 1.1's published SYSTEM_PROMPT.txt"


def template_id_for(domain: str) -> str:
    """The current template id of ``domain``; a clear error for an unknown domain."""
    try:
        return DOMAIN_TEMPLATES[domain]
    except KeyError:
        choices = ", ".join(DOMAIN_TEMPLATES)
        raise InvalidRequestError("domain", f"Unknown domain {domain!r}; choose one of {choices}.") from None


def load_preamble(template_id: str) -> str:
    domain, version = template_id.split("/")
    return resources.files("inference").joinpath("templates", domain, f"{version}.txt").read_text("utf-8").strip()


def load_system_prompt(files: ModelFiles | None) -> tuple[str, str]:
    """Magistral's system prompt and where it came from: the model directory's own file wins."""
    if files is not None and files.system_prompt_file is not None:
        return files.system_prompt_file.read_text(encoding="utf-8"), str(files.system_prompt_file)
    text = resources.files("inference").joinpath("templates", "magistral_system_prompt.txt").read_text("utf-8")
    return text, BUILT_IN_SYSTEM_PROMPT


def system_content(system_prompt: str, preamble: str) -> list[dict[str, Any]]:
    """Split the system prompt at ``[THINK]``/``[/THINK]`` so they become control tokens, not text."""
    chunks: list[dict[str, Any]] = []
    start, end = system_prompt.find(THINK), system_prompt.find(END_THINK)
    if 0 <= start < end:
        chunks.append({"type": "text", "text": system_prompt[:start]})
        chunks.append({"type": "thinking", "thinking": system_prompt[start + len(THINK) : end], "closed": True})
        tail = system_prompt[end + len(END_THINK) :]
    else:
        tail = system_prompt
    chunks.append({"type": "text", "text": tail.rstrip("\n") + "\n\n" + preamble})
    return chunks


def user_content(request: ReasoningRequest) -> str:
    """Documents first, each between numbered markers that carry its name, then the question."""
    parts = []
    for number, document in enumerate(request.documents, start=1):
        parts.append(
            f'<<<DOCUMENT {number} name="{document.name}">>>\n{document.text.strip()}\n<<<END DOCUMENT {number}>>>'
        )
    if parts:
        parts.insert(0, f"{len(parts)} document(s) follow, each between its own markers.")
    parts.append(f"Question: {request.question.strip()}")
    return "\n\n".join(parts)


def validate_request(request: ReasoningRequest) -> str:
    """Check every request field; returns the template id. Raises ``InvalidRequestError`` naming the field."""
    template_id = template_id_for(request.domain)
    if not request.question.strip():
        raise InvalidRequestError("question", "The question is empty; write the question the model should answer.")
    for document in request.documents:
        if not document.name.strip():
            raise InvalidRequestError("documents", "A document has no name; every document must be named.")
        if not document.text.strip():
            raise InvalidRequestError("documents", f"The document {document.name!r} has no text.")
    validate_settings(request.settings)
    return template_id


def validate_settings(settings: GenerationSettings, context_limit: int | None = None) -> None:
    """Each setting within its meaningful range (``inference.limits``); budgets within ``context_limit`` if given."""
    temperature, top_p, seed = settings.temperature, settings.top_p, settings.seed
    if not _is_real(temperature) or not 0 <= temperature <= TEMPERATURE_MAX:
        raise InvalidRequestError(
            "temperature",
            f"The temperature must be between 0 and {TEMPERATURE_MAX:g}; {_shown(temperature)} was given.",
        )
    if not _is_real(top_p) or not 0 < top_p <= TOP_P_MAX:
        raise InvalidRequestError("top_p", f"top_p must be above 0 and at most 1; {_shown(top_p)} was given.")
    if not _is_whole(seed) or not 0 <= seed <= SEED_MAX:
        raise InvalidRequestError(
            "seed", f"The seed must be a whole number from 0 to {SEED_MAX} (2^53 - 1); {_shown(seed)} was given."
        )
    for field in ("thinking_budget", "answer_budget", "loop_min_repeats", "loop_min_tokens", "loop_max_period"):
        value = getattr(settings, field)
        label = field.replace("_", " ")
        if not _is_whole(value) or value <= 0:
            raise InvalidRequestError(field, f"The {label} must be a whole number above 0; {_shown(value)} was given.")
        if context_limit is not None and field.endswith("budget") and value > context_limit:
            raise InvalidRequestError(
                field,
                f"The {label} must be at most the context limit of {context_limit} tokens; {_shown(value)} was given.",
            )


def _is_real(value: object) -> bool:
    # A bool is an int to Python but never a meant temperature; an int too large for a float is not finite.
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**1000


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: object) -> str:
    # Formatting an int of more than 4,300 digits raises; say how big it is instead.
    if isinstance(value, int) and value.bit_length() > 200:
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    return repr(value)


def render_prompt(
    tokenizer: Any,
    files: ModelFiles | None,
    request: ReasoningRequest,
    context_limit: int,
) -> RenderedPrompt:
    """Validate ``request`` and render it to token ids, checked against the context limit."""
    template_id = validate_request(request)
    system_prompt, source = load_system_prompt(files)
    messages = (
        {"role": "system", "content": system_content(system_prompt, load_preamble(template_id))},
        {"role": "user", "content": user_content(request)},
    )
    token_ids = tuple(encode_messages(tokenizer, messages))
    budget = request.settings.thinking_budget + request.settings.answer_budget
    if len(token_ids) + budget > context_limit:
        raise ContextLimitError(len(token_ids), budget, context_limit)
    return RenderedPrompt(
        token_ids=token_ids,
        text=tokenizer.decode(list(token_ids), skip_special_tokens=False),
        template_id=template_id,
        system_prompt_source=source,
        system_prompt_sha256=sha256_text(system_prompt),
        messages=messages,
    )


# Stands in for the user turn while the chat template renders; never shown, never tokenized.
_USER_TURN = "\ue000GLASSBOX USER TURN\ue000"


def encode_messages(tokenizer: Any, messages: tuple[dict[str, Any], dict[str, Any]]) -> list[int]:
    """Token ids of ``messages``: the template's control tokens are real, the user turn is plain text."""
    if _encodes_content_as_text(tokenizer):
        encoded = tokenizer.apply_chat_template(
            list(messages), tokenize=True, add_generation_prompt=True, return_dict=True
        )
        return [int(token) for token in encoded["input_ids"]]
    # An HF chat template renders to text before tokenizing, so user text reading "[/INST]" would
    # become a control token. Render the layout around a placeholder instead, and encode the user
    # turn alone with special tokens split into ordinary pieces. The user turn sits between the
    # template's own control tokens, so a clean prompt gets exactly the template's ids.
    system, user = messages
    layout = tokenizer.apply_chat_template(
        [system, dict(user, content=_USER_TURN)], tokenize=False, add_generation_prompt=True
    )
    if layout.count(_USER_TURN) != 1:
        raise NotMagistralError("The tokenizer's chat template does not render the user turn exactly once.")
    before, after = layout.split(_USER_TURN)
    ids = tokenizer.encode(before, add_special_tokens=False)
    ids += tokenizer.encode(user["content"], add_special_tokens=False, split_special_tokens=True)
    ids += tokenizer.encode(after, add_special_tokens=False)
    return [int(token) for token in ids]


def _encodes_content_as_text(tokenizer: Any) -> bool:
    # mistral-common (tekken.json) encodes message content as plain text itself; only its
    # backend lacks split_special_tokens, which it does not need.
    from transformers.tokenization_mistral_common import MistralCommonBackend

    return isinstance(tokenizer, MistralCommonBackend)
