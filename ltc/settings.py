"""One frozen settings object, read from LTC_* environment variables.

The embedded defaults (SQLite file and SQLite queue under var/) need no servers. Production
points LTC_DATABASE_URL at PostgreSQL and LTC_BROKER_URL at Redis or RabbitMQ, and must then
provide LTC_SECRET_KEY. The audit log's key files and checkpoints live outside the database
(LTC_AUDIT_KEY_FILE, LTC_AUDIT_SIGNING_KEY_FILE, LTC_AUDIT_CHECKPOINT_DIR; README "Security for
operators"). Any misconfiguration raises SettingsError naming the variable, so the
process stops at start-up instead of failing on the first request.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")
BROKER_SCHEMES = ("sqlite", "redis", "rediss", "amqp", "amqps", "stub")
MIN_SECRET_KEY_LENGTH = 32
MIN_PASSWORD_ITERATIONS = 1_000


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable and what to do."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    var_dir: Path
    media_dir: Path
    secret_key: str
    time_zone: ZoneInfo
    password_iterations: int = 600_000
    database_pool_size: int = 10
    login_max_failures: int = 5
    login_window_seconds: int = 900
    session_idle_minutes: int = 30  # signed out after this long without a request
    session_max_hours: int = 12  # and this long after signing in, whatever the activity
    # How long an unfinished resumable upload is kept after its last bytes (ltc.evidence
    # .resumable): three days cover a weekend in a village without signal.
    upload_keep_hours: int = 72
    # Proxies whose X-Forwarded-For names the client (uvicorn's forwarded_allow_ips); empty:
    # trust nobody, the peer address is the client.
    trusted_proxies: tuple[str, ...] = ()
    secure_cookies: bool = False
    debug: bool = False
    # Printed on notice documents (QR code and short address of the public page).
    public_url: str = "http://127.0.0.1:8000"
    # `ltc migrate` and `ltc db grant-app-role` connect as the role that owns the tables; the
    # app connects with database_url as a role that may only append to the audit log.
    migration_database_url: str = ""
    # Secrets of the audit log that never live in the database (ltc.audit.keys).
    audit_key_file: Path = Path("var/audit_key")
    audit_signing_key_file: Path = Path("var/audit_signing_key")
    audit_public_key_file: Path = Path("var/audit_signing_key.pub")
    audit_checkpoint_dir: Path = Path("var/audit_checkpoints")
    # The bureau's enrolment system (README "Enrolment check over HTTP"); empty: the local
    # enrolment table answers.
    enrolment_url: str = ""
    enrolment_token: str = ""
    enrolment_timeout: float = 2.0  # seconds, per attempt
    enrolment_retries: int = 2  # more attempts after the first
    enrolment_failure_threshold: int = 5  # consecutive failed checks that open the circuit
    enrolment_cool_down: int = 30  # seconds open before one probe
    # Decision events out (ltc.decision_events): one HTTP attempt's limit, and how many
    # deliveries one worker sends at once.
    events_timeout: int = 10
    events_concurrency: int = 16
    # Hosts events may go to although they are this machine or a reserved address
    # (ltc.decision_events.rules.receiver_refusal, which compares them case-blind, without a
    # final dot or IPv6 brackets): exact names or addresses, or `*.suffix`.
    event_receiver_hosts: tuple[str, ...] = ()

    @property
    def is_embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path:
        return sqlite_path(self.database_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        var_dir = _var_dir(env)
        signing_key = _path(env, "LTC_AUDIT_SIGNING_KEY_FILE", var_dir / "audit_signing_key")
        database_url = env.get("LTC_DATABASE_URL", f"sqlite:///{var_dir / 'ltc.sqlite3'}")
        _check_url("LTC_DATABASE_URL", database_url, DATABASE_SCHEMES)
        broker_url = env.get("LTC_BROKER_URL", f"sqlite:///{var_dir / 'queue.sqlite3'}")
        _check_url("LTC_BROKER_URL", broker_url, BROKER_SCHEMES)
        migration_database_url = env.get("LTC_MIGRATION_DATABASE_URL", database_url)
        _check_url("LTC_MIGRATION_DATABASE_URL", migration_database_url, DATABASE_SCHEMES)
        embedded = database_url.startswith("sqlite")
        if not embedded and broker_url.startswith(("sqlite", "stub")):
            raise SettingsError(
                "LTC_BROKER_URL",
                "with PostgreSQL set a shared broker (redis://… or amqp://…); the embedded "
                "SQLite queue only serves one machine",
            )
        return cls(
            database_url=database_url,
            broker_url=broker_url,
            var_dir=var_dir,
            media_dir=Path(env.get("LTC_MEDIA_DIR", str(var_dir / "media"))).resolve(),
            secret_key=_secret_key(env, var_dir, embedded),
            time_zone=_time_zone(env.get("LTC_TIME_ZONE", "Asia/Shanghai")),
            password_iterations=_int(env, "LTC_PASSWORD_ITERATIONS", 600_000,
                                     MIN_PASSWORD_ITERATIONS),
            database_pool_size=_int(env, "LTC_DATABASE_POOL_SIZE", 10, 0),
            login_max_failures=_int(env, "LTC_LOGIN_MAX_FAILURES", 5, 1),
            login_window_seconds=_int(env, "LTC_LOGIN_WINDOW_SECONDS", 900, 1),
            session_idle_minutes=_int(env, "LTC_SESSION_IDLE_MINUTES", 30, 1),
            session_max_hours=_int(env, "LTC_SESSION_MAX_HOURS", 12, 1),
            upload_keep_hours=_int(env, "LTC_UPLOAD_KEEP_HOURS", 72, 1),
            trusted_proxies=_addresses(env, "LTC_TRUSTED_PROXIES"),
            # Behind HTTPS in production; the embedded demo is plain http on 127.0.0.1.
            secure_cookies=_bool(env, "LTC_SECURE_COOKIES", not embedded),
            debug=_bool(env, "LTC_DEBUG", False),
            public_url=_public_url(env.get("LTC_PUBLIC_URL", "http://127.0.0.1:8000")),
            migration_database_url=migration_database_url,
            audit_key_file=audit_key_path(env),
            audit_signing_key_file=signing_key,
            audit_public_key_file=_path(env, "LTC_AUDIT_PUBLIC_KEY_FILE",
                                        signing_key.with_name(signing_key.name + ".pub")),
            audit_checkpoint_dir=_path(env, "LTC_AUDIT_CHECKPOINT_DIR",
                                       var_dir / "audit_checkpoints"),
            enrolment_url=_enrolment_url(env),
            enrolment_token=env.get("LTC_ENROLMENT_TOKEN", ""),
            enrolment_timeout=_seconds(env, "LTC_ENROLMENT_TIMEOUT", 2.0),
            enrolment_retries=_int(env, "LTC_ENROLMENT_RETRIES", 2, 0),
            enrolment_failure_threshold=_int(env, "LTC_ENROLMENT_FAILURE_THRESHOLD", 5, 1),
            enrolment_cool_down=_int(env, "LTC_ENROLMENT_COOL_DOWN", 30, 1),
            events_timeout=_int(env, "LTC_EVENTS_TIMEOUT", 10, 1),
            events_concurrency=_int(env, "LTC_EVENTS_CONCURRENCY", 16, 1),
            event_receiver_hosts=tuple(
                h.strip() for h in env.get("LTC_EVENT_RECEIVER_HOSTS", "").split(",")
                if h.strip()),
        )


def _var_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("LTC_VAR_DIR", "var")).resolve()


def _path(env: Mapping[str, str], variable: str, default: Path) -> Path:
    return Path(env[variable]).resolve() if env.get(variable) else default


def audit_key_path(env: Mapping[str, str]) -> Path:
    """The audit chain's HMAC key file: read on every audit event, so without building
    the whole settings object."""
    return _path(env, "LTC_AUDIT_KEY_FILE", _var_dir(env) / "audit_key")


def is_embedded(env: Mapping[str, str]) -> bool:
    return env.get("LTC_DATABASE_URL", "sqlite").startswith("sqlite")


def _addresses(env: Mapping[str, str], variable: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks (`10.0.0.5, 10.1.0.0/16`)."""
    found = []
    for part in (p.strip() for p in env.get(variable, "").split(",")):
        if not part:
            continue
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise SettingsError(variable, f"{part!r} is not an IP address or network, e.g. "
                                "10.0.0.5 or 10.1.0.0/16") from None
        found.append(part)
    return tuple(found)


def _public_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError("LTC_PUBLIC_URL", f"{url!r} is not an http(s) address such as "
                            "https://ltc.example.gov.cn")
    return url.rstrip("/")


def _enrolment_url(env: Mapping[str, str]) -> str:
    url = env.get("LTC_ENROLMENT_URL", "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError("LTC_ENROLMENT_URL", f"{url!r} is not an http(s) address such as "
                            "https://ybj.example.gov.cn/api")
    return url.rstrip("/")


def _seconds(env: Mapping[str, str], variable: str, default: float) -> float:
    raw = env.get(variable)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(variable, f"must be a number of seconds, got {raw!r}") from exc
    if not 0 < value <= 60:
        raise SettingsError(variable, f"must be more than 0 and at most 60 seconds, got {raw}")
    return value


def sqlite_path(url: str) -> Path:
    """SQLAlchemy's convention: `sqlite:///rel/path` is relative, `sqlite:////abs/path` absolute."""
    return Path(url.removeprefix("sqlite:///")).resolve()


def _check_url(variable: str, url: str, schemes: tuple[str, ...]) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in schemes:
        raise SettingsError(
            variable, f"unsupported URL {url!r}; use one of {', '.join(s + '://' for s in schemes)}"
        )
    if scheme == "sqlite" and not (url.startswith("sqlite:///") and url[10:].strip("/")):
        raise SettingsError(variable, "sqlite URL needs a file path, e.g. sqlite:///var/ltc.sqlite3")


def _secret_key(env: Mapping[str, str], var_dir: Path, embedded: bool) -> str:
    key = env.get("LTC_SECRET_KEY")
    if key is not None:
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                "LTC_SECRET_KEY", f"must be at least {MIN_SECRET_KEY_LENGTH} characters long"
            )
        return key
    if not embedded:
        raise SettingsError(
            "LTC_SECRET_KEY",
            "is required in production (PostgreSQL); generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`",
        )
    # Embedded mode: generate once and keep it, so sessions survive restarts.
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError("LTC_TIME_ZONE", f"unknown time zone {name!r}") from exc


def _int(env: Mapping[str, str], variable: str, default: int, minimum: int) -> int:
    raw = env.get(variable)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(variable, f"must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(variable, f"must be at least {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], variable: str, default: bool) -> bool:
    raw = env.get(variable)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(variable, f"must be true or false, got {raw!r}")
