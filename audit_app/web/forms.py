from __future__ import annotations

from typing import Any

from django import forms

from audit_app.models.organisation import DOMAINS
from inference.types import DEFAULT_ANSWER_BUDGET, DEFAULT_TEMPERATURE, DEFAULT_THINKING_BUDGET, DEFAULT_TOP_P


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class SubmitJobForm(forms.Form):
    domain = forms.ChoiceField(choices=DOMAINS)
    case_reference = forms.CharField(max_length=100, label="Case reference")
    case_title = forms.CharField(max_length=200, required=False, label="Case title (new cases)")
    question = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=20_000, strip=False)
    documents = MultipleFileField(required=False, help_text=".txt, .md or .pdf (text layer)")
    thinking_budget = forms.IntegerField(initial=DEFAULT_THINKING_BUDGET, label="Thinking budget (tokens)")
    answer_budget = forms.IntegerField(initial=DEFAULT_ANSWER_BUDGET, label="Answer budget (tokens)")
    temperature = forms.FloatField(initial=DEFAULT_TEMPERATURE)
    top_p = forms.FloatField(initial=DEFAULT_TOP_P, label="top_p")
    seed = forms.IntegerField(initial=0)


class SuspendForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
