"""The model, resident in each inference worker process: one engine, loaded once as the process starts.

An inference worker is one process with a thread pool (``-P threads -c GLASSBOX_ENGINE_SLOTS``): each task
thread runs one job, and every job goes through the one engine, which batches them (``inference/batching.py``).
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
from celery.concurrency.thread import TaskPool as ThreadPool
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from audit_app.celery import INFERENCE_QUEUE, app
from audit_app.services import workers
from inference import Engine, InferenceError, PromptBuilder
from inference.batching import BatchSettings
from inference.kv import parse_size
from inference.remote import OpenAIServer, RemoteEngine
from inference.tiny_model import TEST_MODEL_MARKER

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_engine: Engine | RemoteEngine | None = None
_load_error: InferenceError | None = None


def get_engine() -> Engine | RemoteEngine:
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


def batch_settings() -> BatchSettings:
    """The engine's slots and KV memory from the settings; ``ValueError`` (a sentence) for a bad memory size."""
    config = settings.GLASSBOX
    memory = config["KV_CACHE_MEMORY"].strip()
    try:
        memory_bytes = parse_size(memory) if memory else None
    except ValueError as error:
        raise ValueError(f"GLASSBOX_KV_CACHE_MEMORY: {error}") from None
    if config["ENGINE_SLOTS"] < 1:
        raise ValueError(f"GLASSBOX_ENGINE_SLOTS must be at least 1, not {config['ENGINE_SLOTS']}.")
    return BatchSettings(slots=config["ENGINE_SLOTS"], kv_memory_bytes=memory_bytes)


def _load() -> Engine | RemoteEngine:
    config = settings.GLASSBOX
    batch = batch_settings()
    remote = config["ENGINE"] == "openai"  # GLASSBOX_ENGINE: a server generates, this worker keeps the tokenizer
    if remote and not (config["OPENAI_BASE_URL"] and config["OPENAI_MODEL"]):
        raise InferenceError(
            "GLASSBOX_ENGINE=openai needs GLASSBOX_OPENAI_BASE_URL (like http://gpu-host:8000/v1) and "
            "GLASSBOX_OPENAI_MODEL (the name the server serves the model under)."
        )
    # Settings that fake slowness with the tiny model; refused with a real one.
    delays = {
        "TEST_LOAD_DELAY_SECONDS": config["TEST_LOAD_DELAY_SECONDS"],
        "TEST_STEP_DELAY_SECONDS": config["TEST_STEP_DELAY_SECONDS"],
    }
    test_only = [name for name, delay in delays.items() if delay > 0]
    if not test_only and not remote:
        return Engine.load(config["MODEL_PATH"] or None, config["QUANTIZATION"], config["CONTEXT_LIMIT"], batch=batch)
    prompts = PromptBuilder.open(config["MODEL_PATH"] or None, config["CONTEXT_LIMIT"], weights_needed=not remote)
    if test_only and not prompts.files.config.get(TEST_MODEL_MARKER, False):
        names = " and ".join(f"GLASSBOX_{name}" for name in test_only)
        raise InferenceError(f"{names} is a test-only setting, refused with a real model.")
    time.sleep(delays["TEST_LOAD_DELAY_SECONDS"])  # stands in for the minutes a 24B model takes to load
    if remote:
        server = OpenAIServer(config["OPENAI_BASE_URL"], config["OPENAI_API_KEY"])
        return RemoteEngine.from_prompts(prompts, server, config["OPENAI_MODEL"])
    return Engine.from_prompts(prompts, config["QUANTIZATION"], batch=batch)


def paced(should_cancel: Callable[[], bool]) -> Callable[[], bool]:
    """The job's per-token check, slowed by GLASSBOX_TEST_STEP_DELAY_SECONDS so tests can act mid-run.

    It slows the job's own thread (the reader of its token stream), not the engine, which runs on
    meanwhile. Safe to apply to every job: ``_load`` refuses the setting unless the model is the tiny test model.
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
    from audit_app.services.queueing import queue_promise_refusal
    from inference.loading import QUANTIZATION_MODES

    queues = sorted(app.amqp.queues.consume_from)
    refusal = queue_promise_refusal(queues, settings.GLASSBOX["QUANTIZATION"], tuple(QUANTIZATION_MODES))
    if refusal is not None:
        raise ImproperlyConfigured(refusal)
    return any(queue == INFERENCE_QUEUE or queue.startswith(INFERENCE_QUEUE + ".") for queue in queues)


def shape_refusal(pool: type, concurrency: int) -> str | None:
    """Why an inference worker of this pool and concurrency must not start, or None.

    One engine per process, so the pool must be threads (prefork would load the model in every child), and
    its threads are the engine's slots: a mismatch would leave slots idle or jobs claimed but waiting.
    """
    if not issubclass(pool, ThreadPool):
        return (
            "An inference worker runs one engine in one process and must use the thread pool: "
            "start it with -P threads (docs/operations.md, 'Running the service')."
        )
    slots = settings.GLASSBOX["ENGINE_SLOTS"]
    if concurrency != slots:
        return (
            f"This inference worker would run {concurrency} task threads but its engine has {slots} slots "
            f"(GLASSBOX_ENGINE_SLOTS): start it with -c {slots}, or set GLASSBOX_ENGINE_SLOTS={concurrency}."
        )
    return None


class LoadModelAtStart(bootsteps.StartStopStep):
    """A worker start-up step: an inference worker checks its shape, then loads the model once, in its own
    process, before its consumer (a step Celery starts last) takes any job."""

    def __init__(self, parent: Any, **options: Any) -> None:
        super().__init__(parent, **options)
        try:
            self.serves = serves_inference()  # the worker applied -Q before creating its steps
        except ImproperlyConfigured as error:  # its queue promises other weights than it would load
            logger.critical(str(error))
            raise SystemExit(str(error)) from None
        if not self.serves:
            return
        try:
            batch_settings()
            refusal = shape_refusal(parent.pool_cls, parent.concurrency)
        except ValueError as error:
            refusal = str(error)
        if refusal is not None:
            logger.critical(refusal)
            raise SystemExit(refusal)

    def start(self, parent: Any) -> None:
        if not self.serves:
            return
        with contextlib.suppress(InferenceError):  # each job will fail with the stored sentence
            engine = get_engine()
            if isinstance(engine, Engine):  # its KV cache is allocated now, so the heartbeat reports real capacity
                engine.batch_engine()
        workers.start_heartbeat(_engine, _load_error, sorted(app.amqp.queues.consume_from))
