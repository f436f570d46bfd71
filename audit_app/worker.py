"""The model, resident in each worker process: loaded once at process start, never per task."""

from __future__ import annotations

import contextlib
import logging
import threading

from celery.signals import worker_process_init
from django.conf import settings

from inference import Engine, InferenceError

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_engine: Engine | None = None
_load_error: InferenceError | None = None


def get_engine() -> Engine:
    """The process's engine; raises the load error (one sentence) again for every job if loading failed."""
    global _engine, _load_error
    with _lock:
        if _engine is None and _load_error is None:
            config = settings.GLASSBOX
            try:
                _engine = Engine.load(config["MODEL_PATH"] or None, config["QUANTIZATION"], config["CONTEXT_LIMIT"])
                logger.info("Model loaded: %s", _engine.provenance["model_id"])
            except InferenceError as error:
                logger.error("Model not loaded: %s", error)
                _load_error = error
        if _load_error is not None:
            raise _load_error
        assert _engine is not None
        return _engine


@worker_process_init.connect
def _load_at_start(**_: object) -> None:
    with contextlib.suppress(InferenceError):  # each job will fail with the stored sentence
        get_engine()
