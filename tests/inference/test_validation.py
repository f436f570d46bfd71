"""Every bad request field gives a typed error naming the field, in one sentence."""

from __future__ import annotations

import pytest

from inference.errors import InvalidRequestError
from inference.prompting import validate_request
from inference.types import Document, GenerationSettings, ReasoningRequest


def error_for(request: ReasoningRequest) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as error:
        validate_request(request)
    assert "\n" not in str(error.value)
    return error.value


def with_settings(**settings: object) -> ReasoningRequest:
    return ReasoningRequest("legal", "Q?", settings=GenerationSettings(**settings))  # type: ignore[arg-type]


def test_unknown_domain():
    error = error_for(ReasoningRequest("tax", "Q?"))
    assert (error.field, str(error)) == ("domain", "Unknown domain 'tax'; choose one of legal, finance, clinical.")


@pytest.mark.parametrize("question", ["", "   \n"])
def test_empty_question(question: str):
    assert error_for(ReasoningRequest("legal", question)).field == "question"


def test_negative_temperature():
    error = error_for(with_settings(temperature=-0.1))
    assert (error.field, str(error)) == ("temperature", "The temperature must be between 0 and 2; -0.1 was given.")


@pytest.mark.parametrize("top_p", [0.0, -1.0, 1.01, float("nan")])
def test_top_p_outside_zero_one(top_p: float):
    assert error_for(with_settings(top_p=top_p)).field == "top_p"


@pytest.mark.parametrize("field", ["thinking_budget", "answer_budget"])
@pytest.mark.parametrize("value", [0, -5])
def test_budgets_must_be_positive(field: str, value: int):
    error = error_for(with_settings(**{field: value}))
    assert error.field == field
    assert f"must be a whole number above 0; {value} was given" in str(error)


def test_empty_document():
    error = error_for(ReasoningRequest("legal", "Q?", documents=(Document("a.txt", " "),)))
    assert (error.field, str(error)) == ("documents", "The document 'a.txt' has no text.")


def test_greedy_temperature_zero_and_top_p_one_are_valid():
    assert validate_request(with_settings(temperature=0.0, top_p=1.0)) == "legal/v1"
