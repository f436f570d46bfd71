"""The Celery application; configuration comes from Django settings (``CELERY_*``)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "audit_app.settings")

# Queue names as in settings.CELERY_TASK_QUEUES: inference workers hold the model, the control worker never does.
INFERENCE_QUEUE = "inference"
CONTROL_QUEUE = "control"

app = Celery("glassbox")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["audit_app"])
# Named, not imported: the step (and the model it loads) exists only in a starting worker.
app.steps["worker"].add("audit_app.worker:LoadModelAtStart")
