"""Run one generation through transformers' ``generate`` under a ``GenerationController``."""

from __future__ import annotations

import random
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from inference.controller import GenerationController


class _ForceTokens(LogitsProcessor):  # type: ignore[misc]
    """Leaves only the controller's forced token possible at a step (budget forcing, think start)."""

    def __init__(self, controller: GenerationController) -> None:
        self.controller = controller

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        forced = self.controller.forced_token()
        if forced is None:
            return scores
        masked = torch.full_like(scores, float("-inf"))
        masked[:, forced] = 0.0
        return masked  # type: ignore[return-value]


class _StopWhenControllerSays(StoppingCriteria):  # type: ignore[misc]
    """Feeds each new token to the controller; polled once per step, so cancel lands within one step."""

    def __init__(self, controller: GenerationController) -> None:
        self.controller = controller

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        stop = self.controller.observe(int(input_ids[0, -1]))
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


def seed_everything(seed: int) -> None:
    """Seed every generator sampling may draw from, so the same seed on the same device repeats."""
    random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def run_generate(model: Any, prompt_ids: tuple[int, ...], controller: GenerationController) -> list[int]:
    """Generate for one prompt; returns the new token ids (the controller holds the rest)."""
    settings = controller.settings
    device = next(model.parameters()).device
    input_ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=device)
    sampling: dict[str, Any] = (
        # top_k=0: the model card samples with temperature and top_p only; transformers would add top_k=50.
        {
            "do_sample": True,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "top_k": 0,
            "repetition_penalty": 1.0,
        }
        if settings.temperature > 0
        else {"do_sample": False}
    )
    seed_everything(settings.seed)
    with torch.inference_mode():
        output = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            # A few extra steps for the control tokens the budgets do not count.
            max_new_tokens=settings.thinking_budget + settings.answer_budget + 8,
            logits_processor=LogitsProcessorList([_ForceTokens(controller)]),
            stopping_criteria=StoppingCriteriaList([_StopWhenControllerSays(controller)]),
            eos_token_id=controller.control.eos,
            pad_token_id=controller.control.eos,
            **sampling,
        )
    controller.finish()
    return [int(token) for token in output[0, input_ids.shape[1] :]]
