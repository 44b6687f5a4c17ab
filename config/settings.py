"""The one settings module. Every deployment difference comes from environment variables
(see README.md and .env.example); nothing here is copied per environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str
from config.storage import episode_media_storage_config

# Before any app module loads: admin and form classes name their model in brackets (ModelAdmin[Robot]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
# Local data (SQLite, static files, the embedded broker). Importing settings creates no folder:
# common.apps creates the ones this process uses at start-up (common/folders.py).
VAR_DIR = Path(env_str("TRIALBENCH_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    # Only for local development: a fixed key keeps sessions valid across restarts.
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    # Not a domain app: its AppConfig registers the configuration checks (common/checks.py) and creates
    # the local folders at start-up. The lowest Django-aware layer, so every app may rely on it.
    "common",
    "accounts",
    "robots",
    "policies",
    "trials",
    "reports",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out authenticate() into the lockout response.
    "axes.middleware.AxesMiddleware",
]

# --- Login lockout (django-axes; accounts/lockout.py) ---------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username + address pair
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT must be at least 1")
_cooloff_minutes = env_float("AXES_COOLOFF_MINUTES", 15.0)
if _cooloff_minutes <= 0:
    raise ImproperlyConfigured("AXES_COOLOFF_MINUTES must be positive")
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes)
# Per username and address together: a guesser is stopped, and nobody can lock a colleague out from
# elsewhere by typing their username wrong on purpose.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_TRUSTED_PROXY_COUNT = env_int("AXES_TRUSTED_PROXY_COUNT", 1 if env_bool("BEHIND_TLS_PROXY") else 0)
if AXES_TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("AXES_TRUSTED_PROXY_COUNT must be zero or positive")
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.nav",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'trialbench.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while a worker writes; IMMEDIATE transactions take the write
    # lock up front so two writers wait on the busy timeout instead of failing with "locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not :memory:, so that a worker process started by a test sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-trialbench.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"  # created at start-up (common/folders.py): whitenoise warns without it
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Episode recordings (videos, trajectories): MEDIA_ROOT by default, an S3-compatible bucket with
    # EPISODE_MEDIA_STORAGE=s3 (config/storage.py). Never served by URL: only by trials' permission-checked views.
    "episode_media": episode_media_storage_config(
        kind=env_str("EPISODE_MEDIA_STORAGE", "local"),
        bucket=env_str("EPISODE_MEDIA_S3_BUCKET"),
        endpoint_url=env_str("EPISODE_MEDIA_S3_ENDPOINT_URL"),
        region=env_str("EPISODE_MEDIA_S3_REGION"),
        prefix=env_str("EPISODE_MEDIA_S3_PREFIX"),
        access_key=env_str("AWS_ACCESS_KEY_ID"),
        secret_key=env_str("AWS_SECRET_ACCESS_KEY"),
    ),
    "staticfiles": {
        # The manifest needs `collectstatic` first (production, `make demo`); off in development and tests.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# Upload limits: policies are ONNX files, checked and size-limited (never unpickled).
POLICY_MAX_UPLOAD_BYTES = env_int("POLICY_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
# Episode recordings uploaded by robot agents and integrators (trials.ingest): the largest file, in bytes.
# A trajectory is held to the smaller of this and core.recording.trajectory's 32 MiB.
EPISODE_MEDIA_MAX_BYTES = env_int("EPISODE_MEDIA_MAX_BYTES", 200 * 1024 * 1024)
if EPISODE_MEDIA_MAX_BYTES < 1:
    raise ImproperlyConfigured("EPISODE_MEDIA_MAX_BYTES must be at least 1")
# The largest LeRobotDataset zip an integrator may import into a trial (trials.lerobot_import), in bytes.
LEROBOT_IMPORT_MAX_BYTES = env_int("LEROBOT_IMPORT_MAX_BYTES", 2 * 1024 * 1024 * 1024)
if LEROBOT_IMPORT_MAX_BYTES < 1:
    raise ImproperlyConfigured("LEROBOT_IMPORT_MAX_BYTES must be at least 1")
# A finished LeRobotDataset export's zip is removed this many days after it was built (the export then
# reads "expired" and its download answers 410); 0 keeps every zip. The removal runs as the Celery beat
# entry below and `manage.py lerobot_exports_expire`.
LEROBOT_EXPORT_KEEP_DAYS = env_float("LEROBOT_EXPORT_KEEP_DAYS", 7.0)
if LEROBOT_EXPORT_KEEP_DAYS < 0:
    raise ImproperlyConfigured("LEROBOT_EXPORT_KEEP_DAYS must be 0 (keep every export) or more days")

# --- Security --------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY") else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): only this site's own files run or style the page. No inline
# script, handler, style element or style attribute anywhere (behaviour: static/js/app.js; charts:
# static/js/charts.js with plotly's rules from static/vendor/plotly/plotly.css, see docs/architecture.md
# "Front end"); tests/e2e/test_csp_browser.py opens every page in Chromium and fails on any violation.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # data: images: pico.css draws its select arrows, checkboxes and icons as data: SVGs (an image
        # cannot run script, even an SVG one).
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.ApiAutoSchema",
    # The API speaks JSON only (the CSV upload declares its multipart parser itself).
    "DEFAULT_PARSER_CLASSES": ["common.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "common.exceptions.api_exception_handler",
    # Per token (common/throttling.py), counted in the default cache: per process with LocMemCache.
    "DEFAULT_THROTTLE_RATES": {
        "api": env_str("API_THROTTLE_RATE", "1200/min"),
        "ingest": env_str("API_INGEST_THROTTLE_RATE", "300/min"),
    },
}
# Largest JSON or CSV body the ingest endpoints accept (1,000 episodes with events fit in ~1 MiB).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 8 * 1024 * 1024)
SPECTACULAR_SETTINGS = {
    "TITLE": "TrialBench API",
    "DESCRIPTION": "Trials of vision-language-action policies: tasks, robots, trials, episodes, reports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Separate request and response components, so a request says what it must hold (minLength of a
    # required string, no read-only fields) and schemathesis generates only what the server accepts.
    "COMPONENT_SPLIT_REQUEST": True,
    # Readable names for choice sets that share a field name across models.
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "trials.models.TaskStatus",
        "TrialStatusEnum": "trials.models.TrialStatus",
        "EpisodeOutcomeEnum": "trials.models.EpisodeOutcome",
        "EventKindEnum": "trials.models.EventKind",
        "ErrorCodeEnum": "common.errors.ERROR_CODES",
        "BlindPreferredEnum": "core.blind.PREFERRED",
    },
}

# --- Celery ----------------------------------------------------------------------------------
# Redis is the production broker. Without REDIS_URL, an embedded filesystem broker needs no
# server at all, so `make demo` runs a real worker on a bare machine (see README "Broker").
REDIS_URL = env_str("REDIS_URL")
CELERY_FS_BROKER_DIR = Path(env_str("CELERY_FS_BROKER_DIR", str(VAR_DIR / "celery-broker")))
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object]
if REDIS_URL:
    # A message a killed worker had taken comes back after this many seconds (acks_late).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FS_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_FS_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_FS_BROKER_DIR / "processed"),
        # The exchange->queue tables; kombu's default is ./control under the working directory, which
        # every process on the machine would share whatever its broker folder (lost routes under load).
        "control_folder": str(CELERY_FS_BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": env_float("CELERY_POLLING_INTERVAL", 0.1),
    }
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # results live in the database, not in a result backend
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Cache -------------------------------------------------------------------------------------
# The manager dashboard caches each task's ROI row (reports.roi.dashboard). With Redis every web process
# and machine shares one cache: a row one gunicorn worker computed serves all of them, across restarts.
# CACHE_REDIS_URL defaults to REDIS_URL; in production give it its own database number (e.g. /1), because
# cache.clear() flushes the whole Redis database, broker queues included. Short socket timeouts make a
# Redis outage an error within seconds rather than a hung page.
# Without Redis (make demo, tests, one machine): the local-memory cache, not the file cache. It needs no
# folder or cleanup, costs no disk I/O or pickled files per row, and cannot serve rows pickled by an older
# deploy; the price is one copy per process, i.e. at worst one recompute per worker after a start.
CACHE_REDIS_URL = env_str("CACHE_REDIS_URL", REDIS_URL)


def cache_settings(*, redis_url: str) -> dict[str, dict[str, object]]:
    """The CACHES setting: Redis at `redis_url` when given, else this process's memory."""
    if redis_url:
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": "trialbench",
                "OPTIONS": {"socket_connect_timeout": 2.0, "socket_timeout": 2.0},
            }
        }
    # Above Django's default of 300 entries: one dashboard row per task and scenario must not be culled.
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "trialbench",
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }


CACHES = cache_settings(redis_url=CACHE_REDIS_URL)

# --- Simulation trial runner (trials/runner.py) -----------------------------------------------
# Episodes per Celery task; a worker renews its chunk's lease after every episode, and the reaper
# (run by every worker every TRIAL_REAPER_INTERVAL_S) re-enqueues chunks whose lease is older than
# TRIAL_CHUNK_LEASE_S, and queued chunks no worker took within TRIAL_CHUNK_QUEUED_LEASE_S.
TRIAL_CHUNK_EPISODES = env_int("TRIAL_CHUNK_EPISODES", 10)
TRIAL_CHUNK_LEASE_S = env_float("TRIAL_CHUNK_LEASE_S", 60.0)
TRIAL_CHUNK_QUEUED_LEASE_S = env_float("TRIAL_CHUNK_QUEUED_LEASE_S", 3600.0)
TRIAL_REAPER_INTERVAL_S = env_float("TRIAL_REAPER_INTERVAL_S", 15.0)
# An episode lost to infrastructure (policy server unreachable or erroring, simulator exception, agent
# crash) is recorded as `lost`, counted in no figure, and re-run with the same seed up to
# TRIAL_LOST_EPISODE_RETRIES times; the runner waits TRIAL_LOST_RETRY_DELAY_S before the first re-run,
# doubling up to TRIAL_LOST_RETRY_MAX_DELAY_S, so a restarted server gets the episodes back.
TRIAL_LOST_EPISODE_RETRIES = env_int("TRIAL_LOST_EPISODE_RETRIES", 3)
TRIAL_LOST_RETRY_DELAY_S = env_float("TRIAL_LOST_RETRY_DELAY_S", 2.0)
TRIAL_LOST_RETRY_MAX_DELAY_S = env_float("TRIAL_LOST_RETRY_MAX_DELAY_S", 30.0)

# --- Robot agents (robots/services.py) --------------------------------------------------------
# A leased job whose agent sends neither heartbeat nor events for AGENT_LEASE_S goes back to the
# queue; a robot silent for AGENT_OFFLINE_AFTER_S is shown offline. `next job` long-polls at most
# AGENT_LONG_POLL_MAX_S (keep it below the proxy's and gunicorn's request timeouts).
AGENT_LEASE_S = env_float("AGENT_LEASE_S", 60.0)
AGENT_OFFLINE_AFTER_S = env_float("AGENT_OFFLINE_AFTER_S", 30.0)
AGENT_LONG_POLL_MAX_S = env_float("AGENT_LONG_POLL_MAX_S", 20.0)
CELERY_BEAT_SCHEDULE = {
    "robots-mark-stale": {
        "task": "robots.tasks.robots_mark_stale_task",
        "schedule": env_float("AGENT_SWEEP_INTERVAL_S", 15.0),
    },
    # Hourly: an export outlives LEROBOT_EXPORT_KEEP_DAYS by at most an hour.
    "lerobot-exports-expire": {
        "task": "trials.tasks.lerobot_exports_expire_task",
        "schedule": 3600.0,
    },
}

# --- Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
