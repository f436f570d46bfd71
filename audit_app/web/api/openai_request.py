"""An OpenAI chat completion request, read into what ``submit_job`` takes, or refused in OpenAI's error shape.

Only what Glassbox really does is accepted: a parameter it would have to ignore (tools, n>1, logprobs, stop
strings, penalties, JSON mode, audio, ...) is refused with a sentence rather than silently dropped, so a
caller never believes a run was shaped by something that was not applied. A parameter sent with its
neutral value (``n: 1``, ``logprobs: false``, ``presence_penalty: 0``) is accepted: several clients send them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from audit_app.web.api.serializers import UNFILED
from inference import GenerationSettings

MODEL_PREFIX = "magistral-small"
DOMAINS = ("legal", "finance", "clinical")
MODELS = tuple(f"{MODEL_PREFIX}-{domain}" for domain in DOMAINS)
CONVERSATION = "conversation.txt"  # earlier messages travel as this text document (docs/api.md)
ROLES = ("system", "developer", "user", "assistant")
MAX_QUESTION = 20_000

# Accepted only with these neutral values (absent or null is always fine).
NEUTRAL: dict[str, tuple[Any, ...]] = {
    "n": (1,),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "presence_penalty": (0, 0.0),
    "frequency_penalty": (0, 0.0),
    "logit_bias": ({},),
    "stop": ([],),
    "tools": ([],),
    "functions": ([],),
    "modalities": (["text"],),
    "response_format": ({"type": "text"},),
    "store": (True,),  # every call is stored as evidence; store=false cannot be honoured
}
WHY = {
    "n": "Glassbox makes one completion per request (one job, one run record); send n=1 or leave it out.",
    "logprobs": "Glassbox does not return log probabilities.",
    "top_logprobs": "Glassbox does not return log probabilities.",
    "tools": "Tools and function calling are not supported.",
    "tool_choice": "Tools and function calling are not supported.",
    "functions": "Tools and function calling are not supported.",
    "function_call": "Tools and function calling are not supported.",
    "parallel_tool_calls": "Tools and function calling are not supported.",
    "response_format": "Only text responses are supported (response_format type 'text').",
    "audio": "Audio output is not supported.",
    "modalities": "Only the 'text' modality is supported.",
    "stop": "Stop sequences are not supported: a run ends at its budget or at the model's end token.",
    "store": "Every call is stored as ledgered evidence; store=false cannot be honoured.",
    "reasoning_effort": "Set the thinking budget in tokens with the X-Glassbox-Thinking-Budget header instead.",
}
# Read and used below; "user" is accepted and not used (the API key already names the caller).
KNOWN = {"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens"}
KNOWN |= {"temperature", "top_p", "seed", "user"}


class OpenAIError(Exception):
    """A refusal in OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
        job_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind, self.job_id = (
            status,
            message,
            param,
            code,
            kind,
            job_id,
        )

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}
        if self.job_id is not None:
            error["glassbox_job_id"] = self.job_id
        return {"error": error}


def bad(message: str, param: str | None = None, code: str = "invalid_value") -> OpenAIError:
    return OpenAIError(400, message, param, code)


@dataclasses.dataclass(frozen=True)
class ChatRequest:
    model: str
    domain: str
    question: str
    conversation: str  # earlier messages as a text document; empty when the question is the only message
    generation: GenerationSettings
    case_reference: str
    case_title: str
    stream: bool
    include_usage: bool
    budget_param: str  # the parameter the answer budget came from, to name it in a refusal


def read_chat_request(body: Any, headers: Any) -> ChatRequest:
    """``body`` (parsed JSON) and the request's headers as a ``ChatRequest``; ``OpenAIError`` names the fault."""
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.")
    _refuse_unsupported(body)
    model, domain = _model(body.get("model"), headers.get("X-Glassbox-Domain"))
    question, conversation = _messages(body.get("messages"))
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise bad("stream must be true or false.", "stream")
    include_usage = _stream_options(body.get("stream_options"), stream)
    budget_param, generation = _generation(body, headers)
    case_reference = headers.get("X-Glassbox-Case-Reference") or UNFILED
    case_title = headers.get("X-Glassbox-Case-Title") or ""
    for header, value, most in (("Case-Reference", case_reference, 100), ("Case-Title", case_title, 200)):
        if len(value) > most:  # the columns' lengths, as /api/v1/jobs/ bounds them
            raise bad(f"X-Glassbox-{header} is longer than {most} characters.", f"X-Glassbox-{header}")
    return ChatRequest(
        model=model,
        domain=domain,
        question=question,
        conversation=conversation,
        generation=generation,
        case_reference=case_reference,
        case_title=case_title,
        stream=stream,
        include_usage=include_usage,
        budget_param=budget_param,
    )


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for name, value in body.items():
        if value is None or name in KNOWN:
            continue
        if any(type(value) is type(neutral) and value == neutral for neutral in NEUTRAL.get(name, ())):
            continue  # the value that changes nothing (True is not 1 here)
        if name in WHY:
            raise bad(f"{name} is not supported by Glassbox: {WHY[name]}", name, "unsupported_parameter")
        raise bad(f"Unrecognized request argument supplied: {name}.", name, "unsupported_parameter")


def _model(model: Any, header: str | None) -> tuple[str, str]:
    if not isinstance(model, str) or not model:
        raise bad("Give the model, one of: " + ", ".join(MODELS) + ".", "model", "missing_required_parameter")
    domain = header.strip().lower() if header else None
    if domain is not None and domain not in DOMAINS:
        raise bad(f"X-Glassbox-Domain must be one of {', '.join(DOMAINS)}; {header!r} was given.", "model")
    if model == MODEL_PREFIX:
        if domain is None:
            raise bad(f"The model {model!r} needs an X-Glassbox-Domain header ({', '.join(DOMAINS)}).", "model")
        return model, domain
    if model not in MODELS:
        raise OpenAIError(
            404,
            f"The model {model!r} does not exist; the models are {', '.join(MODELS)} (GET /v1/models).",
            "model",
            "model_not_found",
        )
    named = model.removeprefix(MODEL_PREFIX + "-")
    if domain is not None and domain != named:
        raise bad(f"The model {model!r} is the {named} domain, but X-Glassbox-Domain says {domain}.", "model")
    return model, named


def _text(content: Any, where: str) -> str:
    """A message's content: a string, or a list of text parts (images, audio and files are refused)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise bad(f"{where}: only text content parts are supported, not {kind!r}.", "messages")
            texts.append(part["text"])
        return "".join(texts)
    raise bad(f"{where}: content must be a string or a list of text parts.", "messages")


def _messages(messages: Any) -> tuple[str, str]:
    """The last message (a user's) is the question; the earlier ones become the conversation document."""
    if not isinstance(messages, list) or not messages:
        raise bad("messages must be a non-empty list of messages.", "messages", "missing_required_parameter")
    lines = []
    for number, message in enumerate(messages):
        where = f"messages[{number}]"
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise bad(f"{where}: each message needs a role ({', '.join(ROLES)}).", "messages")
        if message.get("tool_calls") or message.get("function_call"):
            raise bad(f"{where}: tool calls are not supported.", "messages", "unsupported_parameter")
        lines.append((message["role"], _text(message.get("content"), where)))
    role, question = lines[-1]
    if role != "user":
        raise bad("The last message must be the user's question.", "messages")
    if not question.strip():
        raise bad("The last user message is empty; ask a question.", "messages")
    if len(question) > MAX_QUESTION:  # the bound of the submit form and /api/v1/jobs/
        raise bad(f"The question (the last user message) is longer than {MAX_QUESTION:,} characters.", "messages")
    earlier = "\n\n".join(f"[{role}]\n{text}" for role, text in lines[:-1])
    return question, earlier


def _stream_options(options: Any, stream: bool) -> bool:
    if options is None:
        return False
    if not stream:
        raise bad("stream_options is only allowed with stream: true.", "stream_options")
    if not isinstance(options, dict) or set(options) - {"include_usage"}:
        raise bad("stream_options supports only include_usage.", "stream_options", "unsupported_parameter")
    include = options.get("include_usage", False)
    if not isinstance(include, bool):
        raise bad("stream_options.include_usage must be true or false.", "stream_options")
    return include


def _generation(body: dict[str, Any], headers: Any) -> tuple[str, GenerationSettings]:
    defaults = GenerationSettings()
    budget_param = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    given = [body[name] for name in ("max_tokens", "max_completion_tokens") if body.get(name) is not None]
    if len(given) == 2 and given[0] != given[1]:
        raise bad("Give max_tokens or max_completion_tokens, not two different values.", "max_completion_tokens")
    thinking: Any = defaults.thinking_budget
    header = headers.get("X-Glassbox-Thinking-Budget")
    if header is not None:
        if not header.strip().isdigit():
            raise bad("X-Glassbox-Thinking-Budget must be a whole number of tokens.", "X-Glassbox-Thinking-Budget")
        thinking = int(header)

    def value(name: str, default: Any) -> Any:
        return default if body.get(name) is None else body[name]

    # Types and ranges are checked by submit_job (inference.prompting.validate_settings), naming the field.
    return budget_param, GenerationSettings(
        temperature=value("temperature", defaults.temperature),
        top_p=value("top_p", defaults.top_p),
        seed=value("seed", 0),
        thinking_budget=thinking,
        answer_budget=given[0] if given else defaults.answer_budget,
    )
