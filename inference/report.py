"""Plain-text rendering of a result for the terminal: thinking and answer apart, then the evidence."""

from __future__ import annotations

from inference.types import ReasoningResult

TEST_MODEL_BANNER = "*** TEST MODEL: random weights, not Magistral. This output is noise, not reasoning. ***"


def _section(title: str, body: str) -> str:
    return f"===== {title} =====\n{body if body else '(empty)'}\n"


def format_result(result: ReasoningResult) -> str:
    """Thinking, answer, run facts and provenance as separate, labelled sections."""
    provenance = result.provenance
    device = provenance["device"]
    timings = result.timings
    forced = ", ".join(f"{f['token']} at {f['position']} ({f['reason']})" for f in result.forced_tokens) or "none"
    run = "\n".join(
        [
            f"finish reason: {result.finish_reason}",
            f"thinking ended by: {result.thinking_end}",
            f"forced tokens: {forced}",
            f"tokens: prompt {len(result.prompt.token_ids)}, thinking {result.thinking_tokens}, "
            f"answer {result.answer_tokens}, generated {result.generated_tokens}",
            f"time to first token: {timings['time_to_first_token_seconds']:.3f} s, "
            f"generation: {timings['generation_seconds']:.3f} s, "
            f"decode: {timings['decode_tokens_per_second']:.1f} tokens/s",
        ]
    )
    files = "\n".join(f"  {digest}  {name}" for name, digest in provenance["weight_files"].items())
    libraries = ", ".join(f"{name} {version}" for name, version in provenance["libraries"].items())
    evidence = "\n".join(
        [
            f"model: {provenance['model_id']} @ {provenance['revision']}"
            + (" (TEST MODEL)" if result.is_test_model else ""),
            f"weights sha256: {provenance['weights_sha256']}",
            files,
            f"tokenizer ({provenance['tokenizer_kind']}) sha256: {provenance['tokenizer_sha256']}",
            f"prompt template: {result.prompt.template_id}; system prompt: {result.prompt.system_prompt_source} "
            f"(sha256 {result.prompt.system_prompt_sha256})",
            f"quantization: {provenance['quantization']['mode']}",
            f"device: {device['type']} {device['name']}",
            f"seed: {provenance['seed']}, temperature {result.settings.temperature}, top_p {result.settings.top_p}",
            f"libraries: {libraries}",
        ]
    )
    parts = [TEST_MODEL_BANNER + "\n"] if result.is_test_model else []
    parts += [
        _section("THINKING", result.thinking),
        _section("ANSWER", result.answer),
        _section("RUN", run),
        _section("PROVENANCE", evidence),
    ]
    if result.is_test_model:
        parts.append(TEST_MODEL_BANNER)
    return "\n".join(parts)
