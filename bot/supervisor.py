"""Starting every service of the assistant on loopback, and stopping all of them on Ctrl-C.

`make run` calls this after set-up, migration and training. Each service is a
separate process (so a practice group can run each on its own machines); this
module only starts them, waits until they answer, prints where they are, and
stops them together when one dies or the operator presses Ctrl-C.
"""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.settings import ROOT, VAR, Settings

PYTHON = sys.executable
RASA = str(Path(PYTHON).with_name("rasa"))
# Rasa and the action server read it before they log anything: it masks phone numbers in their logs.
MASKED_LOGGING = ["--logging-config-file", str(ROOT / "logging.yml")]


@dataclass
class Service:
    name: str
    command: list[str]
    port: int | None = None


def _uses_local_stub(settings: Settings) -> bool:
    base = settings.twilio_api_base
    return base.startswith(("http://127.0.0.1", "http://localhost")) and base.rstrip("/").endswith(
        f":{settings.stub_port}")


def services(settings: Settings, model: str) -> list[Service]:
    host = settings.host
    listed = [
        Service("actions", [RASA, "run", "actions", "--actions", "actions.actions",
                            "--port", str(settings.action_port), *MASKED_LOGGING], settings.action_port),
        Service("rasa", [RASA, "run", "--model", model, "--enable-api", "--interface", host,
                         "--port", str(settings.rasa_port), "--credentials", "credentials.yml",
                         "--endpoints", "endpoints.yml", *MASKED_LOGGING,
                         *(["--auth-token", settings.rasa_token] if settings.rasa_token else [])],
                settings.rasa_port),
        Service("staff inbox", [PYTHON, "-m", "bot.web"], settings.staff_port),
        Service("outbox sender", [PYTHON, "-m", "bot", "outbox", "run"]),
        Service("reminder worker", [PYTHON, "-m", "bot", "reminders", "run"]),
    ]
    if _uses_local_stub(settings):
        contacts = VAR / "demo_contacts.json"
        listed.insert(0, Service("twilio stub + simulator", [
            PYTHON, "-m", "bot.channels.twilio_stub", "--host", host, "--port", str(settings.stub_port),
            "--contacts", str(contacts)], settings.stub_port))
    return listed


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _write_demo_contacts() -> None:
    from bot.db import session_factory
    from bot.demo import demo_contacts

    VAR.mkdir(exist_ok=True)
    with session_factory()() as session:
        (VAR / "demo_contacts.json").write_text(json.dumps(demo_contacts(session), indent=1))


def secured(settings: Settings, env: dict[str, str]) -> Settings:
    """Rasa's HTTP API can pause, resume and rewrite any conversation: it never runs open.

    Without RASA_TOKEN a random token is made for this run and handed to every
    service (the inbox and the reminder worker call the API) through `env`.
    """
    if settings.rasa_token:
        return settings
    env["RASA_TOKEN"] = secrets.token_urlsafe(24)
    return dataclasses.replace(settings, rasa_token=env["RASA_TOKEN"])


def _stop_on_signals() -> None:
    """Ctrl-C, `kill` (SIGTERM, as systemd and Docker stop) and a closed terminal all stop every service.

    The services run in their own sessions, so a signal to the supervisor alone
    would leave them running without it; and a shell that starts the supervisor
    in the background makes it ignore SIGINT unless it is set again here.
    """
    def stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)


def run_services(settings: Settings, model: str | None = None, wait_seconds: float = 300) -> int:
    model = model or str(ROOT / "models")
    busy = [s for s in services(settings, model) if s.port and _port_open(settings.host, s.port)]
    if busy:
        names = ", ".join(f"{s.name} ({s.port})" for s in busy)
        print(f"Cannot start: port already in use for {names}. Is `make run` already running?", file=sys.stderr)
        return 1
    _write_demo_contacts()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    settings = secured(settings, env)
    started: list[tuple[Service, subprocess.Popen]] = []
    _stop_on_signals()
    try:
        for service in services(settings, model):
            log = open(VAR / f"{service.name.split()[0]}.log", "ab")
            process = subprocess.Popen(service.command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            started.append((service, process))
        deadline = time.monotonic() + wait_seconds
        for service, process in started:
            while service.port and not _port_open(settings.host, service.port):
                if process.poll() is not None or time.monotonic() > deadline:
                    print(f"{service.name} did not start; see var/{service.name.split()[0]}.log", file=sys.stderr)
                    return 1
                time.sleep(0.5)
        _print_summary(settings)
        while all(process.poll() is None for _, process in started):
            time.sleep(1)
        dead = [s.name for s, p in started if p.poll() is not None]
        print(f"Stopping: {', '.join(dead)} exited; see var/*.log", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping all services...")
        return 0
    finally:
        for _, process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _print_summary(settings: Settings) -> None:
    host = settings.host
    lines = [
        "",
        "The practice's SMS assistant is running (Ctrl-C stops everything):",
        f"  Rasa server        http://{host}:{settings.rasa_port}  (Twilio webhook: /webhooks/twilio/webhook)",
        f"  Action server      http://{host}:{settings.action_port}",
        f"  Staff inbox        http://{host}:{settings.staff_port}  (first account: python -m bot staff add admin --role admin)",
        "  Outbox sender and reminder worker: running; logs in var/",
    ]
    if _uses_local_stub(settings):
        lines.append(f"  SMS simulator      http://{host}:{settings.stub_port}  (the local Twilio stub: text the bot as a demo patient)")
    lines += [
        "",
        "Talk to the bot:",
        "  make shell                 a Rasa shell as demo patient +15035550111 (Maria Garcia)",
        "  make shell PHONE=+15035550113   as the parent of two children",
        "",
    ]
    print("\n".join(lines), flush=True)
