"""Django settings, read from the environment only (see docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from audit_app.env import (
    GlassboxSettings,
    database_from_url,
    env_bool,
    env_choice,
    env_counts,
    env_float,
    env_header,
    env_int,
    env_list,
    env_queue,
    env_routes,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "audit_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "audit_app.web.security.SecurityHeadersMiddleware",  # CSP on every response, static files included
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files served by the app: no CDN, no extra server
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "audit_app.urls"
WSGI_APPLICATION = "audit_app.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,  # the browsable API and Swagger UI bring their own templates
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "audit_app.web.context.service_status",
            ]
        },
    }
]

DATABASES = {"default": database_from_url(env_str("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "audit_app" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # tests and the demo work without a collectstatic step
WHITENOISE_AUTOREFRESH = DEBUG
# Form fields other than files (the question is at most 20,000 characters); files are bounded below.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# The one upload handler stops each file at GLASSBOX_MAX_UPLOAD_BYTES and skips files beyond
# GLASSBOX_MAX_DOCUMENTS while reading, and the form says why; Django's own file count limit would
# answer a bare "Bad Request" before any view runs, so it is off.
FILE_UPLOAD_HANDLERS = ["audit_app.web.uploads.BoundedUploadHandler"]
DATA_UPLOAD_MAX_NUMBER_FILES = None
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "job-list"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Web security (docs/operations.md, "Web security"): a working day per session unless configured otherwise;
# HTTPS-only behaviour is switched on by the environment, since development and tests run plain HTTP.
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("DJANGO_SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
# Behind a TLS-terminating proxy: the header it sets to "https" (X-Forwarded-Proto), so redirects and cookies
# know the request was secure. Only name a header the proxy always sets, or clients could forge it.
_proxy_ssl_header = env_header("DJANGO_SECURE_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
SECURE_REFERRER_POLICY = "same-origin"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("DJANGO_PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed log-ins are counted in Redis, shared by every web worker (audit_app/web/login_throttle.py).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": "glassbox",
    }
}
GLASSBOX_LOGIN_FAILURES_PER_ACCOUNT = env_int("GLASSBOX_LOGIN_FAILURES_PER_ACCOUNT", 5)
GLASSBOX_LOGIN_FAILURES_PER_ADDRESS = env_int("GLASSBOX_LOGIN_FAILURES_PER_ADDRESS", 20)
GLASSBOX_LOGIN_LOCKOUT_SECONDS = env_int("GLASSBOX_LOGIN_LOCKOUT_SECONDS", 900)
# The header in which the TLS proxy passes the client's address (its last entry is the one the proxy added).
GLASSBOX_CLIENT_ADDRESS_HEADER = env_header("GLASSBOX_CLIENT_ADDRESS_HEADER")

# Celery: JSON only, ids only. An inference worker is one process with one engine and a thread per engine slot
# (-P threads -c GLASSBOX_ENGINE_SLOTS); prefetch multiplier 1 makes its prefetch equal to its slots.
CELERY_BROKER_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Two queues, two kinds of worker (docs/operations.md): ``inference`` workers hold the model, one per GPU;
# the ``control`` worker runs everything else (sweep, checkpoints, verification) and never loads it.
# Each queue its own exchange and key: a bare Queue(name) binds to the default exchange and key, and
# would then receive the control queue's messages too.
# Routing by model and quantization (docs/operations.md, "Scale-out"): run_job goes to GLASSBOX_INFERENCE_QUEUE,
# or to the queue GLASSBOX_INFERENCE_ROUTES names for the job's domain; every such queue is ``inference`` or
# ``inference.<name>`` (``inference.nf4``), so a worker knows from its -Q alone that it must load the model.
INFERENCE_QUEUE = env_queue("GLASSBOX_INFERENCE_QUEUE", "inference")
INFERENCE_ROUTES = env_routes("GLASSBOX_INFERENCE_ROUTES", ["legal", "finance", "clinical"])
for _queue in (INFERENCE_QUEUE, *INFERENCE_ROUTES.values()):
    if _queue != "inference" and not _queue.startswith("inference."):
        raise ImproperlyConfigured(f"Inference queue {_queue!r} must be named inference or inference.<name>.")
_QUEUE_NAMES = dict.fromkeys(["inference", INFERENCE_QUEUE, *INFERENCE_ROUTES.values(), "control"])
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in _QUEUE_NAMES]
CELERY_TASK_DEFAULT_QUEUE = "control"
CELERY_TASK_ROUTES = {
    "glassbox.run_job": {"queue": INFERENCE_QUEUE},  # enqueue_job names the domain's queue where one is routed
    "glassbox.send_notification": {"queue": "control"},  # mail never waits behind a model run
    "glassbox.send_webhook": {"queue": "control"},  # nor does a webhook
    "glassbox.render_report": {"queue": "control"},  # PDF reports never wait behind a model run
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redelivery after a lost worker; the conditional claim makes a duplicate delivery harmless.
    "visibility_timeout": env_int("GLASSBOX_VISIBILITY_TIMEOUT", 3600),
}

GLASSBOX: GlassboxSettings = {
    "MODEL_PATH": env_str("MAGISTRAL_MODEL_PATH", ""),
    "QUANTIZATION": env_str("GLASSBOX_QUANTIZATION", "nf4"),
    # local: the worker loads the weights itself; openai: a server that already serves the model (vLLM) generates,
    # through its OpenAI-compatible /v1/completions, and the worker keeps only the tokenizer (docs/inference.md).
    "ENGINE": env_choice("GLASSBOX_ENGINE", "local", ("local", "openai")),
    "OPENAI_BASE_URL": env_str("GLASSBOX_OPENAI_BASE_URL", ""),
    "OPENAI_MODEL": env_str("GLASSBOX_OPENAI_MODEL", ""),
    "OPENAI_API_KEY": env_secret("GLASSBOX_OPENAI_API_KEY", ""),
    "INFERENCE_QUEUE": INFERENCE_QUEUE,
    "INFERENCE_ROUTES": INFERENCE_ROUTES,
    "CONTEXT_LIMIT": env_int("GLASSBOX_CONTEXT_LIMIT", 40_000),
    "MAX_UPLOAD_BYTES": env_int("GLASSBOX_MAX_UPLOAD_BYTES", 10 * 1024 * 1024),
    "MAX_DOCUMENTS": env_int("GLASSBOX_MAX_DOCUMENTS", 10),
    "PROGRESS_INTERVAL": env_float("GLASSBOX_PROGRESS_INTERVAL", 1.0),
    "STALE_AFTER_SECONDS": env_float("GLASSBOX_STALE_AFTER_SECONDS", 60.0),
    "QUEUED_TOO_LONG_SECONDS": env_float("GLASSBOX_QUEUED_TOO_LONG_SECONDS", 60.0),
    "SWEEP_INTERVAL_SECONDS": env_float("GLASSBOX_SWEEP_INTERVAL_SECONDS", 30.0),
    "MAX_ATTEMPTS": env_int("GLASSBOX_MAX_ATTEMPTS", 3),
    "SOFT_TIME_LIMIT": env_int("GLASSBOX_SOFT_TIME_LIMIT", 3600),
    "HARD_TIME_LIMIT": env_int("GLASSBOX_HARD_TIME_LIMIT", 3900),
    # Jobs one inference process runs at once in its engine (its -c must say the same, audit_app/worker.py).
    "ENGINE_SLOTS": env_int("GLASSBOX_ENGINE_SLOTS", 16),
    # KV cache the engine may fill ("24GiB"); empty: sized automatically. Parsed by the worker at start (with
    # inference.kv.parse_size, which settings cannot import without torch), which refuses a bad value. The web
    # also uses it to refuse a job that could never fit while no live worker has reported its real cache.
    "KV_CACHE_MEMORY": env_str("GLASSBOX_KV_CACHE_MEMORY", ""),
    # The log's name in its checkpoints, and its Ed25519 signing key (PEM, or a path in ..._FILE).
    "LEDGER_ORIGIN": env_str("GLASSBOX_LEDGER_ORIGIN", "glassbox.local/ledger"),
    "LEDGER_KEY": env_secret("GLASSBOX_LEDGER_KEY", ""),
    # Entries after the last checkpoint are unsigned until the next one; signing is cheap when nothing grew.
    "CHECKPOINT_INTERVAL_SECONDS": env_float("GLASSBOX_CHECKPOINT_INTERVAL_SECONDS", 5.0),
    # Test only: a slow model load with the tiny model; audit_app/worker.py refuses it with a real model.
    "TEST_LOAD_DELAY_SECONDS": env_float("GLASSBOX_TEST_LOAD_DELAY_SECONDS", 0.0),
    # Test only: a pause at each decoding step, so a test can act on a job mid-run; refused likewise.
    "TEST_STEP_DELAY_SECONDS": env_float("GLASSBOX_TEST_STEP_DELAY_SECONDS", 0.0),
    # Distinct approvals a finished job needs per domain before it counts as approved (four eyes for clinical).
    "REVIEW_APPROVALS": env_counts(
        "GLASSBOX_REVIEW_APPROVALS", "legal=1,finance=1,clinical=2", ["legal", "finance", "clinical"]
    ),
    # A job awaiting review longer than this is highlighted in the review queue.
    "REVIEW_OVERDUE_HOURS": env_float("GLASSBOX_REVIEW_OVERDUE_HOURS", 24.0),
    # This many wrong passwords at signing within the lock period lock that user's signing for the period.
    "SIGNING_MAX_FAILURES": env_int("GLASSBOX_SIGNING_MAX_FAILURES", 3),
    "SIGNING_LOCK_MINUTES": env_float("GLASSBOX_SIGNING_LOCK_MINUTES", 15.0),
    # Where users reach the web UI: the links in e-mails start with it.
    "BASE_URL": env_str("GLASSBOX_BASE_URL", "http://localhost:8000").rstrip("/"),
    # An e-mail the mail server refused or could not take is tried again this many times, waiting this
    # long before the first retry and twice as long before each next one (at most an hour).
    "NOTIFICATION_RETRIES": env_int("GLASSBOX_NOTIFICATION_RETRIES", 8),
    "NOTIFICATION_RETRY_SECONDS": env_float("GLASSBOX_NOTIFICATION_RETRY_SECONDS", 60.0),
    # How often each inference process writes its WorkerStatus row (operators' Workers page).
    "WORKER_HEARTBEAT_SECONDS": env_float("GLASSBOX_WORKER_HEARTBEAT_SECONDS", 15.0),
    # The largest API request body, refused with 413 while reading: documents travel inline (base64 adds a third).
    "API_MAX_BODY_BYTES": env_int("GLASSBOX_API_MAX_BODY_BYTES", 20 * 1024 * 1024),
    # Requests per API key (DRF's rate syntax: N/second, N/minute, N/hour), counted in Redis across processes.
    "API_RATE": env_str("GLASSBOX_API_RATE", "600/minute"),
    # A webhook POST that fails (no 2xx, a redirect, an error) is tried again this many times, waiting this long
    # before the first retry and twice as long before each next one (at most an hour); each POST gets this long.
    "WEBHOOK_RETRIES": env_int("GLASSBOX_WEBHOOK_RETRIES", 8),
    "WEBHOOK_RETRY_SECONDS": env_float("GLASSBOX_WEBHOOK_RETRY_SECONDS", 30.0),
    "WEBHOOK_TIMEOUT_SECONDS": env_float("GLASSBOX_WEBHOOK_TIMEOUT_SECONDS", 10.0),
    # Hosts and networks (CIDR) webhooks may reach although private, loopback or link-local (SSRF guard).
    "WEBHOOK_ALLOW": env_list("GLASSBOX_WEBHOOK_ALLOW", ""),
    # How long POST /v1/chat/completions waits for its job: under the OpenAI SDKs' 600 s default, so the caller
    # gets Glassbox's answer (naming the job, which goes on) rather than a client timeout and a retried job.
    "OPENAI_TIMEOUT_SECONDS": env_float("GLASSBOX_OPENAI_TIMEOUT_SECONDS", 540.0),
    # Where finished PDF reports are kept (the control worker writes, the web serves: both must see it).
    "REPORT_DIR": env_str("GLASSBOX_REPORT_DIR", str(BASE_DIR / "var" / "reports")),
    # A rendering report without progress for this long lost its worker: the sweep marks it failed.
    "REPORT_STALE_AFTER_SECONDS": env_float("GLASSBOX_REPORT_STALE_AFTER_SECONDS", 300.0),
    # Audit reports are signed (PAdES) with the organisation's key and certificate: PEM files, read at each
    # export, so a missing one refuses reports with a sentence instead of stopping the service. The
    # certificate file may carry the issuing chain after the certificate. An encrypted key opens with the
    # password (or the file named in ..._PASSWORD_FILE).
    "REPORT_SIGNING_KEY_FILE": env_str("GLASSBOX_REPORT_SIGNING_KEY_FILE", ""),
    "REPORT_SIGNING_KEY_PASSWORD": env_secret("GLASSBOX_REPORT_SIGNING_KEY_PASSWORD", ""),
    "REPORT_SIGNING_CERT_FILE": env_str("GLASSBOX_REPORT_SIGNING_CERT_FILE", ""),
    # An RFC 3161 timestamp authority: when set, each signature carries its token (PAdES B-T), else B-B.
    "REPORT_TSA_URL": env_str("GLASSBOX_REPORT_TSA_URL", ""),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "audit_app.web.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the browsable API, with CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["audit_app.web.api.auth.HasScope"],
    "DEFAULT_PARSER_CLASSES": ["audit_app.web.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["audit_app.web.api.throttles.KeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": GLASSBOX["API_RATE"]},
    "EXCEPTION_HANDLER": "audit_app.web.api.problems.handle",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Glassbox API",
    "DESCRIPTION": "Submit reasoning jobs, follow them, and fetch their ledgered evidence and proofs (docs/api.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # local assets: the service runs air-gapped
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Jobs and reports both have a status: each enum keeps one stable name in generated clients.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "audit_app.models.jobs.Job.STATUSES",
        "ReportStatusEnum": "audit_app.models.reports.Report.STATUSES",
    },
}
CELERY_BEAT_SCHEDULE = {
    # A sweep nobody ran within one interval is superseded by the next one: let it expire, not pile up.
    "sweep-jobs": {
        "task": "glassbox.sweep_jobs",
        "schedule": GLASSBOX["SWEEP_INTERVAL_SECONDS"],
        "options": {"expires": GLASSBOX["SWEEP_INTERVAL_SECONDS"]},
    },
    "sign-checkpoint": {
        "task": "glassbox.sign_checkpoint",
        "schedule": GLASSBOX["CHECKPOINT_INTERVAL_SECONDS"],
        "options": {"expires": GLASSBOX["CHECKPOINT_INTERVAL_SECONDS"]},
    },
    # API Idempotency-Keys are promised for 24 hours; hourly pruning keeps the table to about a day's POSTs.
    "prune-idempotency-keys": {
        "task": "glassbox.prune_idempotency_keys",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}

# E-mail notifications (docs/operations.md, "Notifications"): SMTP unless configured otherwise; the demo
# prints them on the control worker's log (console backend). A timeout, so an unreachable server fails the
# attempt (and the task retries it) instead of holding the control worker forever.
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "glassbox@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("GLASSBOX_LOG_LEVEL", "INFO")},
}
