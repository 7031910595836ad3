"""Django settings for yobo. Everything a city changes comes from YOBO_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

SRC_DIR = Path(__file__).resolve().parent
_REPO = SRC_DIR.parent.parent


def _var_dir() -> Path:
    if os.environ.get("YOBO_VAR_DIR"):
        return Path(os.environ["YOBO_VAR_DIR"]).resolve()
    if (_REPO / "pyproject.toml").exists():  # running from a checkout
        return _REPO / "var"
    return Path.cwd() / "var"


VAR_DIR = _var_dir()
KEY_DIR = Path(os.environ.get("YOBO_KEY_DIR", VAR_DIR / "keys")).resolve()


def _env_bool(name: str, default: bool) -> bool:
    v = os.environ.get(name)
    return default if v is None else v.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("YOBO_DEBUG", False)
TESTING = _env_bool("YOBO_TESTING", False)


def _secret_key() -> str:
    if os.environ.get("YOBO_SECRET_KEY"):
        return os.environ["YOBO_SECRET_KEY"]
    path = KEY_DIR / "django-secret.key"
    if path.exists():
        return path.read_text().strip()
    # Before `yobo init` has created the key dir (e.g. `yobo --help`): a per-process key.
    return "unset-" + os.urandom(24).hex()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h for h in os.environ.get("YOBO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]

# The city (地方公共団体). Code with check digit; 141003 is Yokohama (demo default).
def _municipality() -> str:
    # Environment first, then the code `yobo init --municipality` recorded, then the demo city.
    if os.environ.get("YOBO_MUNICIPALITY"):
        return os.environ["YOBO_MUNICIPALITY"]
    recorded = VAR_DIR / "municipality"
    if recorded.exists():
        return recorded.read_text().strip() or "141003"
    return "141003"


MUNICIPALITY_CODE = _municipality()

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp_webauthn",
    "yobo.audit",
    "yobo.access",
    "yobo.mynumber",
    "yobo.people",
    "yobo.immunizations",
    "yobo.notices",
    "yobo.certificates",
    "yobo.exchange",
    "yobo.exports",
    "yobo.governance",
    "yobo.fees",
    "yobo.relief",
    "yobo.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "yobo.access.middleware.TerminalMiddleware",
    "yobo.access.middleware.SecondFactorMiddleware",
    "yobo.access.middleware.IdleLockMiddleware",
]

ROOT_URLCONF = "yobo.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "yobo.web.context.shell",
            ]
        },
    }
]
WSGI_APPLICATION = "yobo.wsgi.application"


def _database() -> dict[str, object]:
    url = os.environ.get("YOBO_DATABASE_URL") or f"sqlite:///{VAR_DIR / 'yobo.sqlite3'}"
    db: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=0))
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db["OPTIONS"] = {
            # IMMEDIATE: a transaction takes the write lock at BEGIN, so concurrent appends to the
            # access-log chain queue instead of failing with "database is locked" mid-way.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        }
        db["TEST"] = {"NAME": os.environ.get("YOBO_TEST_SQLITE_NAME") or None}
    return db


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "access.Staff"
AUTHENTICATION_BACKENDS = [
    # WebAuthn is a second factor only (passwordless login is off), so its backend is not listed:
    # every login starts with StaffBackend's password and account-lifecycle checks.
    "yobo.access.backends.StaffBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "ja"
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# An uploaded dose file (/doses/import/) is spooled here (mode 0600) while its request runs and then
# removed; None: the system's temporary directory.
FILE_UPLOAD_TEMP_DIR = os.environ.get("YOBO_UPLOAD_TMP_DIR") or None

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = 12 * 3600  # a working day at most, even if the browser stays open
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = _env_bool("YOBO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- the privacy spine (see docs/decisions) ---
YOBO_IDLE_LOCK_SECONDS = int(os.environ.get("YOBO_IDLE_LOCK_SECONDS", "600"))
YOBO_LOCKOUT_THRESHOLD = int(os.environ.get("YOBO_LOCKOUT_THRESHOLD", "5"))
YOBO_LOCKOUT_MINUTES = int(os.environ.get("YOBO_LOCKOUT_MINUTES", "30"))
# Header a trusted reverse proxy sets to the SHA-256 fingerprint of the client certificate.
# Empty: the header is ignored (it would be forgeable without such a proxy).
YOBO_TERMINAL_CERT_HEADER = os.environ.get("YOBO_TERMINAL_CERT_HEADER", "")
YOBO_TERMINAL_COOKIE = "yobo_terminal"
YOBO_AUDIT_RETENTION_YEARS = int(os.environ.get("YOBO_AUDIT_RETENTION_YEARS", "7"))
YOBO_AUDIT_CHECKPOINT_EVERY = int(os.environ.get("YOBO_AUDIT_CHECKPOINT_EVERY", "10000"))
# PostgreSQL only, off by default: pure reads commit their log entry without waiting for the WAL flush.
YOBO_AUDIT_ASYNC_READ_COMMIT = _env_bool("YOBO_AUDIT_ASYNC_READ_COMMIT", False)
YOBO_BULK_READ_THRESHOLD = int(os.environ.get("YOBO_BULK_READ_THRESHOLD", "500"))
# Statistics (接種記録統計): a count below this is never published (秘匿; decision 124).
YOBO_STATS_MIN_CELL = int(os.environ.get("YOBO_STATS_MIN_CELL", "10"))
# Office hours for the review report (時間外アクセス): weekdays, not holidays, [start, end).
YOBO_OFFICE_HOURS = (
    int(os.environ.get("YOBO_OFFICE_START_HOUR", "8")),
    int(os.environ.get("YOBO_OFFICE_END_HOUR", "19")),
)

# django-otp-webauthn: the relying party is this host.
OTP_WEBAUTHN_RP_NAME = "yobo 予防接種台帳"
OTP_WEBAUTHN_RP_ID = os.environ.get("YOBO_WEBAUTHN_RP_ID", "localhost")
OTP_WEBAUTHN_ALLOWED_ORIGINS = [
    o for o in os.environ.get("YOBO_WEBAUTHN_ORIGINS", "http://localhost:8000").split(",") if o
]
OTP_TOTP_ISSUER = "yobo"
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("YOBO_LOG_LEVEL", "WARNING")},
}
