"""Build a tiny, random, clearly labelled Magistral-architecture checkpoint for tests and demos.

Real weights cannot be downloaded where Glassbox is developed, so the real loading, prompting
and generation code is exercised against this model. It produces noise, never real reasoning,
and its config marks it as a test model so every result from it says so.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Literal

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

TEST_MODEL_ID = "glassbox/tiny-magistral-test-model"
TEST_MODEL_MARKER = "glassbox_test_model"
DEFAULT_SEED = 1234
VOCAB_SIZE = 1024

# Magistral's control tokens, deliberately at ids other than tekken's (34/35 for [THINK]/[/THINK])
# so that any code relying on fixed ids fails against this model.
SPECIAL_TOKENS = (
    "<unk>",
    "<s>",
    "</s>",
    "[INST]",
    "[/INST]",
    "[SYSTEM_PROMPT]",
    "[/SYSTEM_PROMPT]",
    "[THINK]",
    "[/THINK]",
)

# Magistral's layout: <s>[SYSTEM_PROMPT]…[/SYSTEM_PROMPT][INST]…[/INST]answer</s>. A content
# list may hold {"type": "text"} and {"type": "thinking"} chunks; thinking is wrapped in the
# [THINK]/[/THINK] control tokens, as in the published system prompt.
CHAT_TEMPLATE = (
    "{%- macro render(content) -%}"
    "{%- if content is string -%}{{ content }}"
    "{%- else -%}{%- for chunk in content -%}"
    "{%- if chunk['type'] == 'thinking' -%}[THINK]{{ chunk['thinking'] }}[/THINK]"
    "{%- else -%}{{ chunk['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- endmacro -%}"
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}[SYSTEM_PROMPT]{{ render(message['content']) }}[/SYSTEM_PROMPT]"
    "{%- elif message['role'] == 'user' -%}[INST]{{ render(message['content']) }}[/INST]"
    "{%- elif message['role'] == 'assistant' -%}{{ render(message['content']) }}{{ eos_token }}"
    "{%- endif -%}"
    "{%- endfor -%}"
)

# A fixed corpus keeps the learned merges, and so the tokenizer's hash, identical on every run.
_CORPUS = (
    "A verbal contract can be binding when offer, acceptance, consideration and intention exist.",
    "The statute of frauds requires certain contracts to be in writing, such as sales of land.",
    "Revenue recognition follows the transfer of control of goods or services to the customer.",
    "Liquidity ratios compare current assets with current liabilities over the reporting period.",
    "The patient presents with fever, cough and shortness of breath; consider differential diagnoses.",
    "Contraindications, dosage and interactions must be checked against the product information.",
    "Let me think step by step about the question, the documents and the applicable rules.",
    "Therefore the answer is: it depends on the jurisdiction, the evidence and the exact terms.",
)


def build_tokenizer() -> Tokenizer:
    """Train a small byte-level BPE tokenizer carrying Magistral's control tokens."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(_CORPUS) * 4, trainer=trainer)
    return tokenizer


def write_hf_tokenizer(directory: Path) -> tuple[int, int, int]:
    """Save the HF tokenizer files; returns vocabulary size, bos id and eos id."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(),
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        chat_template=CHAT_TEMPLATE,
    )
    tokenizer.save_pretrained(directory)
    return len(tokenizer), tokenizer.convert_tokens_to_ids("<s>"), tokenizer.convert_tokens_to_ids("</s>")


# tiktoken's split pattern as used by Mistral's tekken tokenizers.
_TEKKEN_PATTERN = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|"
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|"
    r"\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_TEKKEN_SPECIAL_COUNT = 64


def write_tekken_tokenizer(directory: Path) -> tuple[int, int, int]:
    """Write a byte-level tekken.json (mistral-common's format, v13) carrying its special tokens."""
    from mistral_common.tokens.tokenizers.base import SpecialTokens

    specials = [token.value for token in SpecialTokens]
    vocab = [{"rank": i, "token_bytes": base64.b64encode(bytes([i])).decode(), "token_str": None} for i in range(256)]
    data = {
        "config": {
            "pattern": _TEKKEN_PATTERN,
            "num_vocab_tokens": 256,
            "default_vocab_size": 256 + _TEKKEN_SPECIAL_COUNT,
            "default_num_special_tokens": _TEKKEN_SPECIAL_COUNT,
            "version": "v13",
        },
        "vocab": vocab,
        "special_tokens": [{"rank": i, "token_str": text, "is_control": True} for i, text in enumerate(specials)],
    }
    (directory / "tekken.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return 256 + _TEKKEN_SPECIAL_COUNT, specials.index("<s>"), specials.index("</s>")


def make_tiny_model(directory: Path, seed: int = DEFAULT_SEED, tokenizer: Literal["hf", "tekken"] = "hf") -> Path:
    """Write the tiny test model (config, safetensors weights, tokenizer) into ``directory``."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    directory.mkdir(parents=True, exist_ok=True)
    write = write_tekken_tokenizer if tokenizer == "tekken" else write_hf_tokenizer
    vocab_size, bos_id, eos_id = write(directory)

    config = MistralConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=131_072,
        rope_parameters={"rope_type": "default", "rope_theta": 1e9},
        rms_norm_eps=1e-5,
        sliding_window=None,
        tie_word_embeddings=False,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=None,
    )
    setattr(config, TEST_MODEL_MARKER, True)
    config.glassbox_model_id = TEST_MODEL_ID
    config.glassbox_revision = f"tiny-seed-{seed}"
    torch.manual_seed(seed)
    model = MistralForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(directory, safe_serialization=True)
    (directory / "README.md").write_text(
        "# TEST MODEL\n\nA tiny random Mistral-architecture checkpoint built by "
        "`python -m inference make-tiny-model`. Its output is noise, not reasoning; "
        "every Glassbox result from it is labelled as coming from a test model.\n",
        encoding="utf-8",
    )
    _drop_volatile_fields(directory / "config.json")
    return directory


def _drop_volatile_fields(config_path: Path) -> None:
    # transformers writes its own version into config.json; drop it so the same seed gives the
    # same bytes whichever version built the model.
    data = json.loads(config_path.read_text(encoding="utf-8"))
    data.pop("transformers_version", None)
    config_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
