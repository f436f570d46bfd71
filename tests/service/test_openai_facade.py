"""The OpenAI-compatible facade with the official ``openai`` package as the client, against a live gunicorn
started exactly as docs/operations.md documents it, with the real inference worker and the tiny model."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from audit_app.models import AccessEvent, Case, Document, IdempotentRequest, Job, LedgerEntry, Submission, Team
from audit_app.services.api_keys import create_key
from tests.service.processes import ROOT, _environment, documented_commands, start_celery, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
SMALL = {"X-Glassbox-Thinking-Budget": "16"}  # with max_tokens=16: a run of a second or two on the tiny model
QUESTION = [{"role": "user", "content": "Is a verbal contract binding?"}]
THINKING, CASE = "X-Glassbox-Thinking-Budget", "X-Glassbox-Case-Reference"
DOCS_URL = "http://127.0.0.1:8000"  # where docs/api.md's examples point (the demo)


@pytest.fixture(scope="module")
def web(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The documented web command on a free port, on the test database."""
    import localservices  # deploy/ is on the path (tests/services_plugin.py)

    words = shlex.split(documented_commands()["web"])
    assert words[0] == "gunicorn"
    port = localservices.free_port()
    words[words.index("-b") + 1] = f"127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("web") / "gunicorn.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", *words],
        cwd=ROOT,
        env=_environment({"GLASSBOX_OPENAI_TIMEOUT_SECONDS": "120"}),
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: status_of(f"{url}/v1/models") == 401, timeout=60, what="gunicorn to answer")
        yield url
    finally:
        stop(process)


def status_of(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def raw(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def get_json(url: str, secret: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def client(web: str, secret: str, timeout: float = 120) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{web}/v1", api_key=secret, max_retries=0, timeout=timeout)


@pytest.fixture
def analyst_group(db: None) -> None:
    from django.contrib.auth.models import Group

    Group.objects.get_or_create(name="analyst")  # a transactional test flushed the migration's groups


@pytest.fixture
def key(team: Team, analyst_group: None) -> str:
    return create_key("Chat client", team, "read submit", None, "test setup").secret


@pytest.fixture
def read_key(team: Team, analyst_group: None) -> str:
    return create_key("Reporting", team, "read", None, "test setup").secret


@pytest.fixture(scope="module")
def paced_worker(web: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[bytes]]:
    """The documented inference worker, a little slowed per token so that a stream sees the run grow; one for
    the module (it only ever claims jobs by id, so the tests' flushes between them do not disturb it)."""
    from audit_app.celery import app

    app.control.purge()  # messages of jobs from earlier tests, which no longer exist
    log = tmp_path_factory.mktemp("inference") / "inference.log"
    process = start_celery("inference", log, env={"GLASSBOX_TEST_STEP_DELAY_SECONDS": "0.02"})
    yield process
    stop(process)


def stored() -> dict[str, int]:
    models = (Submission, Document, Job, Case, AccessEvent, IdempotentRequest, LedgerEntry)
    return {model.__name__: model.objects.count() for model in models}


def test_models_lists_the_three_domains_and_says_it_is_the_test_model(web: str, read_key: str) -> None:
    models = client(web, read_key).models.list().data
    assert [m.id for m in models] == ["magistral-small-legal", "magistral-small-finance", "magistral-small-clinical"]
    for model in models:
        assert model.owned_by == "glassbox"
        assert model.model_extra is not None
        assert model.model_extra["glassbox_test_model"] is True
        assert "TEST MODEL" in model.model_extra["glassbox_note"]
    clinical = client(web, read_key).models.retrieve("magistral-small-clinical")
    assert (clinical.model_extra or {})["glassbox_domain"] == "clinical"
    with pytest.raises(openai.NotFoundError):
        client(web, read_key).models.retrieve("gpt-4o")


def run_of(web: str, secret: str, job_id: int) -> tuple[dict[str, Any], str]:
    body = get_json(f"{web}/api/v1/jobs/{job_id}/run/", secret)
    return body["record"], body["record_sha256"]


def test_a_chat_completion_is_a_normal_job_answered_from_its_ledgered_record(
    web: str, key: str, paced_worker: subprocess.Popen[bytes]
) -> None:
    messages = [{"role": "system", "content": "Answer briefly."}, *QUESTION]
    response = client(web, key).chat.completions.with_raw_response.create(
        model="magistral-small-legal",
        messages=messages,  # type: ignore[arg-type]
        max_tokens=16,
        temperature=0,
        seed=3,
        extra_headers=SMALL | {"X-Glassbox-Case-Reference": "M-7"},
    )
    completion = response.parse()
    job_id = int(response.headers["X-Glassbox-Job-Id"])
    record, record_sha256 = run_of(web, key, job_id)
    message = completion.choices[0].message
    assert message.content == record["answer"]
    assert message.model_extra is not None
    assert message.model_extra["reasoning_content"] == record["thinking"]
    assert record["thinking"]  # a real trace, not an empty string compared with an empty string
    assert completion.choices[0].finish_reason == {"answer_budget": "length"}.get(record["finish_reason"], "stop")
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == record["prompt_token_count"] > 0
    assert completion.usage.completion_tokens == record["generated_tokens"] > 0
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == record["thinking_tokens"]
    extra = completion.model_extra or {}
    assert extra["glassbox_job_id"] == job_id
    assert extra["glassbox_record_sha256"] == record_sha256 == response.headers["X-Glassbox-Record-Sha256"]
    assert extra["glassbox_test_model"] is True
    # A job like any other: listed, with the key as its submitter, the case, the settings and the conversation.
    listed = get_json(f"{web}/api/v1/jobs/?case_reference=M-7", key)["results"]
    assert [(j["id"], j["status"], j["run_record_sha256"]) for j in listed] == [(job_id, "succeeded", record_sha256)]
    submission = Job.objects.get(pk=job_id).submission
    assert submission.question == QUESTION[0]["content"]
    assert submission.settings | {"temperature": 0.0} == submission.settings
    assert (submission.settings["answer_budget"], submission.settings["thinking_budget"]) == (16, 16)
    assert submission.settings["seed"] == 3
    (document,) = submission.documents.all()
    assert (document.name, document.text) == ("conversation.txt", "[system]\nAnswer briefly.")
    assert AccessEvent.objects.filter(subject=f"job:{job_id}", actor_name=submission.submitted_by_name).exists()


def test_a_streamed_chat_completion_sends_the_trace_then_the_answer_as_produced(
    web: str, key: str, paced_worker: subprocess.Popen[bytes]
) -> None:
    response = client(web, key).chat.completions.with_raw_response.create(
        model="magistral-small-finance",
        messages=QUESTION,  # type: ignore[arg-type]
        max_tokens=24,
        seed=5,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"X-Glassbox-Thinking-Budget": "48"},
    )
    job_id = int(response.headers["X-Glassbox-Job-Id"])
    kinds: list[str] = []
    thinking = answer = ""
    finish, last, usage, running_seen = None, {}, None, False
    for chunk in response.parse():
        extra = chunk.model_extra or {}
        assert extra["glassbox_job_id"] == job_id
        if chunk.usage is not None:
            usage, last = chunk.usage, extra
        for choice in chunk.choices:
            delta = choice.delta.model_extra or {}
            if delta.get("reasoning_content"):
                thinking += delta["reasoning_content"]
                kinds.append("thinking")
                running_seen = running_seen or Job.objects.get(pk=job_id).status == Job.RUNNING
            if choice.delta.content:
                answer += choice.delta.content
                kinds.append("answer")
            if choice.finish_reason:
                finish, last = choice.finish_reason, extra
    record, record_sha256 = run_of(web, key, job_id)
    assert (thinking, answer) == (record["thinking"], record["answer"])
    assert running_seen, "no part of the trace arrived while the job was still running"
    assert kinds.count("thinking") > 1
    assert "answer" in kinds
    assert kinds == sorted(kinds, key=lambda kind: kind == "answer")  # the whole trace first, then the answer
    assert finish == {"answer_budget": "length"}.get(record["finish_reason"], "stop")
    assert last["glassbox_record_sha256"] == record_sha256
    assert last["glassbox_stream_matches_record"] is True
    assert usage is not None
    assert usage.completion_tokens == record["generated_tokens"]
    assert usage.prompt_tokens == record["prompt_token_count"]
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == record["thinking_tokens"]


def test_the_curl_and_python_examples_in_the_docs_work_as_written(
    web: str, key: str, paced_worker: subprocess.Popen[bytes]
) -> None:
    section = (ROOT / "docs" / "api.md").read_text().split("## OpenAI-compatible facade", 1)[1]
    curl = re.search(r"```sh\n(curl .*?)```", section, re.S)
    python = re.search(r"```python\n(.*?)```", section, re.S)
    assert curl is not None
    assert python is not None
    env = dict(os.environ, GLASSBOX_KEY=key)
    shown = subprocess.run(
        ["bash", "-c", curl.group(1).replace(DOCS_URL, web)], env=env, capture_output=True, text=True, timeout=120
    )
    body = json.loads(shown.stdout)
    record, _ = run_of(web, key, body["glassbox_job_id"])
    assert body["choices"][0]["message"]["content"] == record["answer"]
    printed = subprocess.run(
        [sys.executable, "-c", python.group(1).replace(DOCS_URL, web)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert printed.returncode == 0, printed.stderr
    job_id = int(re.search(r"job (\d+)", printed.stdout).group(1))  # type: ignore[union-attr]
    record, record_sha256 = run_of(web, key, job_id)
    assert record["answer"] in printed.stdout
    assert printed.stdout.rstrip().endswith(record_sha256)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("tools", [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]),
        ("tool_choice", "auto"),
        ("functions", [{"name": "f", "parameters": {"type": "object"}}]),
        ("n", 2),
        ("logprobs", True),
        ("top_logprobs", 2),
        ("response_format", {"type": "json_object"}),
        ("audio", {"voice": "alloy", "format": "wav"}),
        ("modalities", ["text", "audio"]),
        ("stop", ["\n"]),
        ("reasoning_effort", "low"),
    ],
)
def test_unsupported_parameters_are_refused_and_nothing_is_stored(web: str, key: str, param: str, value: Any) -> None:
    before = stored()
    with pytest.raises(openai.BadRequestError) as refused:
        client(web, key).chat.completions.create(
            model="magistral-small-legal",
            messages=QUESTION,  # type: ignore[arg-type]
            **{param: value},
        )
    error = refused.value.body
    assert isinstance(error, dict)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, "unsupported_parameter")
    assert "not supported" in error["message"]
    assert stored() == before


def test_bad_requests_get_openai_shaped_errors_and_store_nothing(web: str, key: str) -> None:
    before = stored()
    chat = client(web, key).chat.completions
    bad_calls: list[tuple[type[openai.APIStatusError], dict[str, Any], str]] = [
        (openai.NotFoundError, {"model": "gpt-4o"}, "model"),
        (openai.BadRequestError, {"messages": [*QUESTION, {"role": "assistant", "content": "Yes"}]}, "messages"),
        (openai.BadRequestError, {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages"),
        (openai.BadRequestError, {"temperature": 50}, "temperature"),
        (openai.BadRequestError, {"max_tokens": 0}, "max_tokens"),
        (openai.BadRequestError, {"extra_headers": {THINKING: "lots"}}, THINKING),
        (openai.BadRequestError, {"extra_headers": {"X-Glassbox-Domain": "finance"}}, "model"),
        (openai.BadRequestError, {"extra_body": {"glassbox_anything": 1}}, "glassbox_anything"),
        (openai.BadRequestError, {"extra_headers": {CASE: "M" * 101}}, CASE),
        (openai.BadRequestError, {"temperature": "hot"}, "temperature"),
        (openai.BadRequestError, {"seed": 1.5}, "seed"),
        (openai.BadRequestError, {"max_tokens": "10"}, "max_tokens"),
        (openai.BadRequestError, {"max_completion_tokens": 10**9}, "max_completion_tokens"),
        (openai.BadRequestError, {"stream_options": {"include_usage": True}}, "stream_options"),
        (openai.BadRequestError, {"messages": [{"role": "user", "content": 5}]}, "messages"),
        (openai.BadRequestError, {"messages": "Is it binding?"}, "messages"),
        (openai.BadRequestError, {"model": 5}, "model"),
    ]
    for error_class, changes, param in bad_calls:
        arguments = {"model": "magistral-small-legal", "messages": QUESTION} | changes
        with pytest.raises(error_class) as refused:
            chat.create(**arguments)
        assert isinstance(refused.value.body, dict), changes
        assert refused.value.body["param"] == param, changes
    url, json_type = f"{web}/v1/chat/completions", {"Content-Type": "application/json"}
    status, body = raw(url, b"{", json_type | {"Authorization": f"Bearer {key}"})
    assert status == 400
    assert "not valid UTF-8 JSON" in body["error"]["message"]
    status, body = raw(url, b'{"model": "magistral-small-legal"}', json_type | {"Authorization": f"Bearer {key}"})
    assert (status, body["error"]["param"]) == (400, "messages")
    status, body = raw(url, b'{"model": "magistral-small-legal", "messages": []}', json_type)
    assert status == 401
    assert body["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client(web, key[:-3] + "xyz").chat.completions.create(model="magistral-small-legal", messages=QUESTION)  # type: ignore[arg-type]
    assert status_of(f"{web}/v1/nothing") == 404
    assert stored() == before


def test_a_read_only_key_lists_models_but_cannot_create_completions(web: str, read_key: str) -> None:
    before = stored()
    assert len(client(web, read_key).models.list().data) == 3
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client(web, read_key).chat.completions.create(model="magistral-small-legal", messages=QUESTION)  # type: ignore[arg-type]
    assert isinstance(refused.value.body, dict)
    assert "'submit'" in refused.value.body["message"]
    assert stored() == before


def test_open_streams_do_not_block_other_requests_and_a_cancelled_job_ends_its_stream(web: str, key: str) -> None:
    # No worker: the jobs stay queued and their streams stay open, more of them than gunicorn has processes.
    chat = client(web, key, timeout=15).chat.completions
    streams = [
        chat.with_raw_response.create(model="magistral-small-legal", messages=QUESTION, stream=True)  # type: ignore[arg-type]
        for _ in range(3)
    ]
    started = time.monotonic()
    assert len(client(web, key, timeout=15).models.list().data) == 3
    assert time.monotonic() - started < 5
    for response in streams:
        job_id = int(response.headers["X-Glassbox-Job-Id"])
        cancel = urllib.request.Request(
            f"{web}/api/v1/jobs/{job_id}/cancel/", headers={"Authorization": f"Bearer {key}"}, method="POST"
        )
        urllib.request.urlopen(cancel, timeout=15).close()
        with pytest.raises(openai.APIError, match=f"Job {job_id} was cancelled"):
            for _ in response.parse():
                pass


def test_a_cancelled_job_is_an_error_naming_it_that_the_sdk_does_not_retry(web: str, key: str) -> None:
    # The SDK's own retries left on: x-should-retry: false must keep it from submitting a second job.
    chat = openai.OpenAI(base_url=f"{web}/v1", api_key=key, timeout=60).chat.completions
    caught: list[BaseException] = []

    def call() -> None:
        try:
            chat.create(model="magistral-small-legal", messages=QUESTION)  # type: ignore[arg-type]
        except openai.APIError as error:
            caught.append(error)

    waiting = threading.Thread(target=call)
    waiting.start()
    job = wait_for(lambda: Job.objects.first(), timeout=30, what="the call's job")
    assert isinstance(job, Job)
    cancel = urllib.request.Request(
        f"{web}/api/v1/jobs/{job.pk}/cancel/", headers={"Authorization": f"Bearer {key}"}, method="POST"
    )
    urllib.request.urlopen(cancel, timeout=15).close()
    waiting.join(timeout=30)
    (error,) = caught
    assert isinstance(error, openai.ConflictError)
    assert error.response.headers["X-Glassbox-Job-Id"] == str(job.pk)
    assert isinstance(error.body, dict)
    assert (error.body["code"], error.body["glassbox_job_id"]) == ("job_cancelled", job.pk)
    assert Job.objects.count() == 1


def test_a_call_that_outwaits_its_timeout_names_the_job_which_goes_on(key: str, settings: Any) -> None:
    from django.test import Client

    settings.GLASSBOX = settings.GLASSBOX | {"OPENAI_TIMEOUT_SECONDS": 0.3}
    response = Client().post(
        "/v1/chat/completions",
        {"model": "magistral-small-legal", "messages": QUESTION, "max_tokens": 8},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_X_GLASSBOX_THINKING_BUDGET="8",
    )
    job = Job.objects.get()
    assert response.status_code == 504
    assert response.json()["error"]["glassbox_job_id"] == job.pk
    assert response["x-should-retry"] == "false"
    assert f"/api/v1/jobs/{job.pk}/" in response.json()["error"]["message"]
    assert job.status in (Job.QUEUED, Job.RUNNING, Job.SUCCEEDED)  # not cancelled or failed by the timeout


JS_CHECK = ROOT / "tests" / "service" / "js"


def test_the_official_javascript_sdk_works_unchanged_plain_streamed_and_refused(
    web: str, key: str, paced_worker: subprocess.Popen[bytes]
) -> None:
    """`openai` from npm (pinned in tests/service/js/package.json, installed by deploy/setup) under Node."""
    assert (JS_CHECK / "node_modules" / "openai").is_dir(), "deploy/setup installs the JavaScript SDK"
    before = Submission.objects.count()
    done = subprocess.run(
        ["node", str(JS_CHECK / "openai_sdk.mjs")],
        env=os.environ | {"GLASSBOX_BASE_URL": f"{web}/v1", "GLASSBOX_KEY": key},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    got = json.loads(done.stdout)

    plain = got["plain"]
    record, record_sha256 = run_of(web, key, plain["job"])
    assert (plain["content"], plain["reasoning"]) == (record["answer"], record["thinking"])
    assert record["thinking"]
    assert plain["record"] == record_sha256
    assert plain["finish"] == {"answer_budget": "length"}.get(record["finish_reason"], "stop")
    assert plain["usage"]["prompt_tokens"] == record["prompt_token_count"] > 0
    assert plain["usage"]["completion_tokens"] == record["generated_tokens"] > 0
    assert plain["usage"]["completion_tokens_details"]["reasoning_tokens"] == record["thinking_tokens"]

    streamed = got["streamed"]
    (job_id,) = streamed["jobs"]  # every chunk names the one job
    record, record_sha256 = run_of(web, key, job_id)
    assert (streamed["thinking"], streamed["answer"]) == (record["thinking"], record["answer"])
    assert streamed["chunks"] > 2
    assert streamed["record"] == record_sha256
    assert streamed["usage"]["completion_tokens"] == record["generated_tokens"]
    assert Job.objects.get(pk=job_id).submission.domain == "finance"

    refused = got["refused"]
    assert refused["status"] == 400
    assert refused["type"] == "BadRequestError"
    assert "one completion per request" in refused["message"]
    assert Submission.objects.count() == before + 2  # the refused call stored nothing
