"""Load the tokenizer (HF files, else tekken.json through mistral-common) and find control tokens by name."""

from __future__ import annotations

import dataclasses
from typing import Any

from inference.errors import ModelDirectoryError, NotMagistralError
from inference.model_dir import ModelFiles

THINK = "[THINK]"
END_THINK = "[/THINK]"


@dataclasses.dataclass(frozen=True)
class ControlTokens:
    """Ids of the control tokens Glassbox acts on, as this tokenizer defines them."""

    think: int
    end_think: int
    eos: int
    # Every special token's text: user text may contain any of them and must still encode as plain text.
    special_texts: tuple[str, ...]

    def name(self, token_id: int) -> str:
        names = {self.think: THINK, self.end_think: END_THINK, self.eos: "eos"}
        return names.get(token_id, str(token_id))


def load_tokenizer(files: ModelFiles) -> Any:
    """The transformers tokenizer for ``files``; tekken.json goes through the mistral-common backend."""
    try:
        if files.tokenizer_kind == "tekken":
            from transformers.tokenization_mistral_common import MistralCommonBackend

            return MistralCommonBackend.from_pretrained(str(files.path), local_files_only=True)
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(files.path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelDirectoryError(
            f"The tokenizer in {files.path} cannot be loaded ({_first_line(exc)}); copy the tokenizer files again."
        ) from exc


def find_control_tokens(tokenizer: Any, where: str) -> ControlTokens:
    """Look ``[THINK]``, ``[/THINK]`` and end-of-sequence up by name; refuse a tokenizer without them."""
    ids = {name: _token_id(tokenizer, name) for name in (THINK, END_THINK)}
    missing = [name for name, token_id in ids.items() if token_id is None]
    eos = tokenizer.eos_token_id
    if missing or eos is None:
        lacking = ", ".join(missing + ([] if eos is not None else ["an end-of-sequence token"]))
        raise NotMagistralError(
            f"The tokenizer in {where} has no {lacking} control token, so this does not look like a "
            "Magistral Small 1.1 checkpoint."
        )
    think, end_think = ids[THINK], ids[END_THINK]
    if think is None or end_think is None:  # unreachable after the check above; narrows the types
        raise NotMagistralError(f"The tokenizer in {where} lacks [THINK] or [/THINK].")
    return ControlTokens(think=think, end_think=end_think, eos=int(eos), special_texts=_special_texts(tokenizer))


def _token_id(tokenizer: Any, name: str) -> int | None:
    try:
        token_id = tokenizer.convert_tokens_to_ids(name)
    except (KeyError, ValueError):
        return None
    if not isinstance(token_id, int) or token_id == tokenizer.unk_token_id:
        return None
    # The round trip guards against tokenizers that map unknown names to some other id.
    back = tokenizer.convert_ids_to_tokens(token_id)
    return token_id if back == name else None


def _special_texts(tokenizer: Any) -> tuple[str, ...]:
    texts = set(getattr(tokenizer, "all_special_tokens", []) or [])
    added = getattr(tokenizer, "added_tokens_decoder", None)
    if not isinstance(added, dict):  # mistral-common's backend exposes a method here, not a mapping
        added = {}
    texts.update(str(token) for token in added.values() if getattr(token, "special", False))
    texts.update((THINK, END_THINK))
    return tuple(sorted(text for text in texts if text))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
