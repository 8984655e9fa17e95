"""Every setting of the assistant, read from the environment in this one place.

Nothing else reads ``os.environ``. Each setting has a documented default that
works on a developer's machine; the README's "Configuration" table mirrors
this module. Call :func:`get_settings` (cached) or build ``Settings.from_env``
with a dict in tests.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


def _origins(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    return tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    # Storage
    database_url: str = f"sqlite:///{VAR / 'practice.db'}"
    practice_file: str = str(ROOT / "bot" / "demo_practice.yml")

    # Loopback services started by `make run`
    host: str = "127.0.0.1"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""  # Rasa's --auth-token; "" when Rasa runs without one
    action_port: int = 5055
    rasa_port: int = 5005
    staff_port: int = 8000
    stub_port: int = 8099
    sms_port: int = 5080  # the SMS gateway: what Twilio calls

    # Twilio (the SDK talks to TWILIO_API_BASE: Twilio itself, or the local stub)
    twilio_account_sid: str = "ACtest0000000000000000000000000000"
    twilio_auth_token: str = "dev-auth-token"
    twilio_from_number: str = "+15035550199"
    twilio_messaging_service_sid: str = ""
    twilio_api_base: str = ""
    public_base_url: str = "http://127.0.0.1:5080"
    twilio_advanced_opt_out: bool = False
    sms_send_rate: float = 10.0  # messages per second of the sender
    turn_timeout_seconds: float = 90.0  # a turn running longer died with its server: staff get the text

    # Staff inbox
    staff_secret_key: str = "dev-only-secret-change-me"
    staff_session_hours: float = 10.0
    staff_cookie_secure: bool = False  # Secure login cookies; from_env: on when PUBLIC_BASE_URL is https
    staff_trusted_proxies: int = 0  # reverse proxies in front of the inbox whose X-Forwarded-For is believed
    staff_inbox_url: str = "http://127.0.0.1:8000"  # the inbox as on-call staff reach it (their page's link)
    staff_password_scrypt_n: int = 2**14  # scrypt's cost for new password hashes; lower only in tests (conftest.py)

    # Reminders
    reminder_worker_interval: float = 30.0

    # POST /api/bills on the staff web app (statement imports): "Authorization: Bearer BILLS_API_TOKEN";
    # "" (the default) turns the endpoint off
    bills_api_token: str = ""

    # Rasa's tracker store (endpoints.yml reads the same variables): backups and review-nlu use it
    tracker_dialect: str = "sqlite"
    tracker_db: str = str(VAR / "rasa_tracker.db")

    log_level: str = "INFO"

    # Web chat: the site origins (scheme://host[:port]) whose pages may use the chat API; "" in
    # WEB_CHAT_ORIGINS (comma-separated) refuses every site. Default: the sample page on the Rasa server.
    web_chat_origins: tuple[str, ...] = ("http://127.0.0.1:5005", "http://localhost:5005")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        rasa_port = int(env.get("RASA_PORT", cls.rasa_port))
        sms_port = int(env.get("SMS_PORT", cls.sms_port))
        host = env.get("BIND_HOST", cls.host)
        return cls(
            database_url=env.get("DATABASE_URL") or cls.database_url,
            practice_file=env.get("PRACTICE_FILE") or cls.practice_file,
            host=host,
            rasa_url=env.get("RASA_URL") or f"http://{host}:{rasa_port}",
            rasa_token=env.get("RASA_TOKEN", cls.rasa_token),
            action_port=int(env.get("ACTION_PORT", cls.action_port)),
            rasa_port=rasa_port,
            staff_port=int(env.get("STAFF_PORT", cls.staff_port)),
            stub_port=int(env.get("STUB_PORT", cls.stub_port)),
            sms_port=sms_port,
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or cls.twilio_account_sid,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or cls.twilio_auth_token,
            twilio_from_number=env.get("TWILIO_FROM_NUMBER") or cls.twilio_from_number,
            twilio_messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID", ""),
            twilio_api_base=env.get("TWILIO_API_BASE", ""),
            public_base_url=(env.get("PUBLIC_BASE_URL") or f"http://{host}:{sms_port}").rstrip("/"),
            twilio_advanced_opt_out=_bool(env.get("TWILIO_ADVANCED_OPT_OUT"), False),
            sms_send_rate=float(env.get("SMS_SEND_RATE", cls.sms_send_rate)),
            turn_timeout_seconds=float(env.get("TURN_TIMEOUT_SECONDS", cls.turn_timeout_seconds)),
            staff_secret_key=env.get("STAFF_SECRET_KEY") or cls.staff_secret_key,
            staff_session_hours=float(env.get("STAFF_SESSION_HOURS", cls.staff_session_hours)),
            staff_cookie_secure=_bool(env.get("STAFF_COOKIE_SECURE"),
                                      (env.get("PUBLIC_BASE_URL") or "").lower().startswith("https://")),
            staff_trusted_proxies=int(env.get("STAFF_TRUSTED_PROXIES") or cls.staff_trusted_proxies),
            staff_inbox_url=(env.get("STAFF_INBOX_URL")
                             or f"http://{host}:{env.get('STAFF_PORT', cls.staff_port)}").rstrip("/"),
            staff_password_scrypt_n=int(env.get("STAFF_PASSWORD_SCRYPT_N") or cls.staff_password_scrypt_n),
            reminder_worker_interval=float(
                env.get("REMINDER_WORKER_INTERVAL", cls.reminder_worker_interval)
            ),
            bills_api_token=env.get("BILLS_API_TOKEN", cls.bills_api_token),
            log_level=env.get("LOG_LEVEL", cls.log_level),
            web_chat_origins=_origins(env.get("WEB_CHAT_ORIGINS"),
                                      (f"http://{host}:{rasa_port}", f"http://localhost:{rasa_port}")),
            tracker_dialect=env.get("TRACKER_DIALECT") or cls.tracker_dialect,
            tracker_db=env.get("TRACKER_DB") or cls.tracker_db,
        )


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def development_environment() -> dict[str, str]:
    """The variables the Makefile exports for Rasa and the services, with their defaults declared here.

    Rasa's endpoints.yml reads the tracker and lock store ones (SQLite tracker store, in-memory lock
    store); development talks to the local Twilio stub. ``python -m bot.settings`` prints them as
    Makefile assignments, so the Makefile repeats no default; the environment still wins.
    """
    defaults = Settings()
    return {
        "ACTION_PORT": str(defaults.action_port),
        "TRACKER_DIALECT": defaults.tracker_dialect,
        "TRACKER_DB_URL": "",
        "TRACKER_DB": defaults.tracker_db,
        "LOCK_STORE_TYPE": "in_memory",
        "LOCK_STORE_URL": defaults.host,
        "LOCK_STORE_PORT": "6379",
        "TWILIO_API_BASE": f"http://{defaults.host}:{defaults.stub_port}",
    }


if __name__ == "__main__":
    for name, value in development_environment().items():
        print(f"{name}?={value}")
