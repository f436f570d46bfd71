from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from audit_app.models.organisation import DOMAINS
from inference.limits import SEED_MAX, TEMPERATURE_MAX, TOP_P_MAX
from inference.types import DEFAULT_ANSWER_BUDGET, DEFAULT_TEMPERATURE, DEFAULT_THINKING_BUDGET, DEFAULT_TOP_P


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


def _above_zero(value: float) -> None:
    if value <= 0:
        raise ValidationError("top_p must be above 0 and at most 1.")


def _within(low: float, high: float, sentence: str) -> list[Any]:
    return [MinValueValidator(low, sentence), MaxValueValidator(high, sentence)]


TEMPERATURE_RANGE = f"The temperature must be between 0 and {TEMPERATURE_MAX:g}."
SEED_RANGE = f"The seed must be a whole number from 0 to {SEED_MAX} (2^53 - 1)."


SETTINGS_FIELDS = ("thinking_budget", "answer_budget", "temperature", "top_p", "seed")


class SubmitJobForm(forms.Form):
    """The submit form; numeric bounds are the engine's (``inference.limits``), so each shows beside its field."""

    domain = forms.ChoiceField(choices=DOMAINS)
    case_reference = forms.CharField(max_length=100, label="Case reference")
    case_title = forms.CharField(max_length=200, required=False, label="Case title (new cases)")
    question = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=20_000, strip=False)
    documents = MultipleFileField(required=False, help_text=".txt, .md or .pdf (text layer)")
    thinking_budget = forms.IntegerField(initial=DEFAULT_THINKING_BUDGET, label="Thinking budget (tokens)")
    answer_budget = forms.IntegerField(initial=DEFAULT_ANSWER_BUDGET, label="Answer budget (tokens)")
    temperature = forms.FloatField(
        initial=DEFAULT_TEMPERATURE, validators=_within(0, TEMPERATURE_MAX, TEMPERATURE_RANGE)
    )
    top_p = forms.FloatField(
        initial=DEFAULT_TOP_P,
        validators=[_above_zero, MaxValueValidator(TOP_P_MAX, "top_p must be above 0 and at most 1.")],
        label="top_p",
    )
    seed = forms.IntegerField(initial=0, validators=_within(0, SEED_MAX, SEED_RANGE))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No single budget can exceed the whole context; the prompt's share is checked after tokenizing.
        context_limit = settings.GLASSBOX["CONTEXT_LIMIT"]
        for name in ("thinking_budget", "answer_budget"):
            label = name.replace("_", " ")
            sentence = f"The {label} must be a whole number above 0, at most the context limit of {context_limit}."
            self.fields[name].validators.extend(_within(1, context_limit, sentence))
            self.fields[name].widget.attrs.update(min="1", max=str(context_limit), step="1")
        # The browser's own checks use the engine's bounds too (inference.limits, the one place they live).
        self.fields["temperature"].widget.attrs.update(min="0", max=f"{TEMPERATURE_MAX:g}", step="any")
        self.fields["top_p"].widget.attrs.update(min="0", max=f"{TOP_P_MAX:g}", step="any")
        self.fields["seed"].widget.attrs.update(min="0", max=str(SEED_MAX), step="1")

    @property
    def settings_have_errors(self) -> bool:
        """Whether the collapsed "Generation settings" must open to show an error."""
        return any(name in self.errors for name in SETTINGS_FIELDS)


class SuspendForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
