"""The model, resident in each inference worker process: loaded once at process start, never per task.

Only workers that consume the ``inference`` queue load it; the control worker (sweep, checkpoints,
verification) never does, so it stays light and can run beside the GPU workers. Nothing happens on
import: ``LoadModelAtStart`` is a step of the Celery worker's start-up (registered in ``celery.py``),
so only a starting worker, never a web process or a test that imports the tasks, arranges the load.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import bootsteps
from celery.signals import worker_process_init
from django.conf import settings

from audit_app.celery import INFERENCE_QUEUE, app
from audit_app.services import workers
from inference import Engine, InferenceError, PromptBuilder
from inference.tiny_model import TEST_MODEL_MARKER

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_engine: Engine | None = None
_load_error: InferenceError | None = None


def get_engine() -> Engine:
    """The process's engine; raises the load error (one sentence) again for every job if loading failed."""
    global _engine, _load_error
    with _lock:
        if _engine is None and _load_error is None:
            try:
                _engine = _load()
                logger.info("Model loaded: %s", _engine.provenance["model_id"])
            except InferenceError as error:
                logger.error("Model not loaded: %s", error)
                _load_error = error
        if _load_error is not None:
            raise _load_error
        assert _engine is not None
        return _engine


def _load() -> Engine:
    config = settings.GLASSBOX
    # Settings that fake slowness with the tiny model; refused with a real one.
    delays = {
        "TEST_LOAD_DELAY_SECONDS": config["TEST_LOAD_DELAY_SECONDS"],
        "TEST_STEP_DELAY_SECONDS": config["TEST_STEP_DELAY_SECONDS"],
    }
    test_only = [name for name, delay in delays.items() if delay > 0]
    if not test_only:
        return Engine.load(config["MODEL_PATH"] or None, config["QUANTIZATION"], config["CONTEXT_LIMIT"])
    prompts = PromptBuilder.open(config["MODEL_PATH"] or None, config["CONTEXT_LIMIT"])
    if not prompts.files.config.get(TEST_MODEL_MARKER, False):
        names = " and ".join(f"GLASSBOX_{name}" for name in test_only)
        raise InferenceError(f"{names} is a test-only setting, refused with a real model.")
    time.sleep(delays["TEST_LOAD_DELAY_SECONDS"])  # stands in for the minutes a 24B model takes to load
    return Engine.from_prompts(prompts, config["QUANTIZATION"])


def paced(should_cancel: Callable[[], bool]) -> Callable[[], bool]:
    """The engine's per-step check, slowed by GLASSBOX_TEST_STEP_DELAY_SECONDS so tests can act mid-run.

    Safe to apply to every job: ``_load`` refuses the setting unless the model is the tiny test model.
    """
    delay = settings.GLASSBOX["TEST_STEP_DELAY_SECONDS"]
    if delay <= 0:
        return should_cancel

    def slowly() -> bool:
        time.sleep(delay)
        return should_cancel()

    return slowly


def serves_inference() -> bool:
    """Whether this worker consumes an inference queue (``inference`` or ``inference.<name>``, from ``-Q``,
    applied before the pool forks). A queue that names a quantization (``inference.nf4``) must match the one
    this worker loads: a mismatch stops the worker at start with a sentence rather than serve the wrong model."""
    from django.core.exceptions import ImproperlyConfigured

    from audit_app.services.queueing import queue_promise_refusal
    from inference.loading import QUANTIZATION_MODES

    queues = sorted(app.amqp.queues.consume_from)
    refusal = queue_promise_refusal(queues, settings.GLASSBOX["QUANTIZATION"], tuple(QUANTIZATION_MODES))
    if refusal is not None:
        raise ImproperlyConfigured(refusal)
    return any(queue == INFERENCE_QUEUE or queue.startswith(INFERENCE_QUEUE + ".") for queue in queues)


def _load_at_start(**_: object) -> None:
    with contextlib.suppress(InferenceError):  # each job will fail with the stored sentence
        get_engine()
    workers.start_heartbeat(_engine, _load_error, sorted(app.amqp.queues.consume_from))


class LoadModelAtStart(bootsteps.Step):
    """A worker start-up step: an inference worker loads the model in each pool process as it starts."""

    def __init__(self, parent: Any, **options: Any) -> None:
        super().__init__(parent, **options)
        if serves_inference():  # the worker applied -Q before creating its steps
            worker_process_init.connect(_load_at_start, weak=False)
