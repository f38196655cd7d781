"""Settings come from the environment, with defaults that work on a laptop (SQLite under ``var/``).

Variables: DATABASE_URL, CHANLIAN_SECRET_KEY, CHANLIAN_DEBUG, CHANLIAN_DATA_DIR, CHANLIAN_ALLOWED_HOSTS,
CHANLIAN_OPEN_SIGNUP, CHANLIAN_AUDIT_CHAINS, CHANLIAN_DB_PREPARE_THRESHOLD. Production (CHANLIAN_DEBUG unset
or 0) refuses to start with the default secret key.
"""

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(os.environ.get("CHANLIAN_DATA_DIR", Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEFAULT_SECRET_KEY = "chanlian-insecure-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("CHANLIAN_SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = _env_bool("CHANLIAN_DEBUG", False)
TESTING = "pytest" in sys.modules
# The demo and the tests run with the development key; a real install must set its own.
_DEV_COMMANDS = {"demo", "test", "makemigrations", "makemessages", "compilemessages", "check"}
if (
    SECRET_KEY == DEFAULT_SECRET_KEY
    and not DEBUG
    and not TESTING
    and not _env_bool("CHANLIAN_DEMO", False)
    and not (len(sys.argv) > 1 and sys.argv[1] in _DEV_COMMANDS)
):
    raise ImproperlyConfigured(
        "CHANLIAN_SECRET_KEY is not set. Set it for a production install, or CHANLIAN_DEBUG=1 / "
        "CHANLIAN_DEMO=1 for development and the demo."
    )

ALLOWED_HOSTS = [h for h in os.environ.get("CHANLIAN_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
if TESTING:
    ALLOWED_HOSTS.append("testserver")
OPEN_SIGNUP = _env_bool("CHANLIAN_OPEN_SIGNUP", True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "chanlian.core",
    "chanlian.regions",
    "chanlian.industry",
    "chanlian.registry",
    "chanlian.ledger",
    "chanlian.trade",
    "chanlian.matching",
    "chanlian.finance",
    "chanlian.insights",
    "chanlian.notifications",
    "chanlian.web",
    "chanlian.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "chanlian.core.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chanlian.urls"
WSGI_APPLICATION = "chanlian.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chanlian.web.context.chanlian",
                "chanlian.notifications.context.notifications",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'chanlian.sqlite3'}"),
        conn_max_age=int(os.environ.get("CHANLIAN_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN, so two writers
    # queue instead of failing with "database is locked" half-way through a transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Server-side binding and prepared statements (psycopg prepares a statement the Nth time a connection
    # runs it): PostgreSQL then parses and plans the platform's repeated statements once per connection —
    # a voucher move's server CPU 1.63 → 1.08 ms (bench/finance.py, docs/benchmarks.md "Finance").
    # "off" for a pooler that cannot keep prepared statements (PgBouncer before 1.21 in transaction mode).
    _prepare = os.environ.get("CHANLIAN_DB_PREPARE_THRESHOLD", "5").strip().lower()
    if _prepare not in ("off", "none", ""):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": max(0, int(_prepare))}
        )
if TESTING:
    # The live server answers each request on a new thread; a persistent connection per thread would
    # outlive it and keep the test database busy at teardown.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The audit log's hash chains (core.audit): on PostgreSQL a transaction appends to chain
# (transaction id mod CHANLIAN_AUDIT_CHAINS) + 1, so up to that many writers append at once instead of
# queueing on one head row until their commit. SQLite has one writer: one chain there.
AUDIT_CHAINS = max(1, int(os.environ.get("CHANLIAN_AUDIT_CHAINS", "16")))

# Wrong passwords are limited (core.reauth) at sign-in, on the page and for API tokens.
AUTHENTICATION_BACKENDS = ["chanlian.core.auth.ThrottledModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "chanlian.core.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "chanlian.core.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "chanlian.core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Chanlian API",
    "DESCRIPTION": "产链 — county characteristic-industry cluster platform. Errors are {code, detail}.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    # The schema and its docs page describe the API; they hold no data, so anyone may read them.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chanlian.core.openapi.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "RegionLevelEnum": "chanlian.regions.choices.RegionLevel",
        "MembershipStatusEnum": "chanlian.registry.choices.MembershipStatus",
        "EnterpriseKindEnum": "chanlian.registry.choices.EnterpriseKind",
        "EnterpriseRoleEnum": "chanlian.registry.choices.EnterpriseRole",
        "ClusterStatusEnum": "chanlian.registry.choices.ClusterStatus",
        "ListingStatusEnum": "chanlian.trade.choices.ListingStatus",
        "DemandStatusEnum": "chanlian.trade.choices.DemandStatus",
        "QuoteStatusEnum": "chanlian.trade.choices.QuoteStatus",
        "SideEnum": "chanlian.trade.choices.Side",
        "OrderStatusEnum": "chanlian.trade.choices.OrderStatus",
        "InvoiceStatusEnum": "chanlian.trade.choices.InvoiceStatus",
        "InvoiceTypeEnum": "chanlian.trade.choices.InvoiceType",
        "BankLineStatusEnum": "chanlian.trade.choices.BankLineStatus",
        "PaymentMethodEnum": "chanlian.trade.choices.PaymentMethod",
        "PaymentPurposeEnum": "chanlian.trade.choices.PaymentPurpose",
        "DisputeDecisionEnum": "chanlian.trade.choices.DisputeDecision",
        "PaymentTermsEnum": "chanlian.trade.choices.PaymentTerms",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CHANLIAN_LOG_LEVEL", "WARNING")},
}
