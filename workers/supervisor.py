"""Starting every service of the assistant on loopback, keeping them running, and stopping them all.

`make run` calls this after set-up, migration and training. Each service is a
separate process (so a practice group can run each on its own machines); this
module starts them, waits until they answer, prints where they are, starts a
service again when it dies (1 s, 2 s, 4 s ... at most 60 s after its deaths in a
row, logged with how it ended and how long it ran), and stops them all, leaving
no process behind, on SIGTERM, SIGINT (Ctrl-C) or SIGHUP.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.private_files import PRIVATE_UMASK, open_private_append, private_dir, write_private_text
from bot.settings import ROOT, VAR, Settings

logger = logging.getLogger(__name__)

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
        Service("sms gateway", [PYTHON, "-m", "channels.sms_twilio.gateway"], settings.sms_port),
        Service("staff inbox", [PYTHON, "-m", "web"], settings.staff_port),
        Service("outbox sender", [PYTHON, "-m", "bot", "outbox", "run"]),
        Service("reminder worker", [PYTHON, "-m", "bot", "reminders", "run"]),
    ]
    if _uses_local_stub(settings):
        contacts = VAR / "demo_contacts.json"
        listed.insert(0, Service("twilio stub + simulator", [
            PYTHON, "-m", "tools.twilio_stub", "--host", host, "--port", str(settings.stub_port),
            "--contacts", str(contacts)], settings.stub_port))
    return listed


def log_path(service: Service) -> Path:
    """var/<first word of the name>.log: var/rasa.log, var/outbox.log, ..."""
    return VAR / f"{service.name.split()[0]}.log"


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _write_demo_contacts() -> None:
    from bot.db import transaction
    from tools.demo import demo_contacts

    with transaction() as session:
        write_private_text(VAR / "demo_contacts.json", json.dumps(demo_contacts(session), indent=1))


def secured(settings: Settings, env: dict[str, str]) -> Settings:
    """Rasa's HTTP API can pause, resume and rewrite any conversation: it never runs open.

    Without RASA_TOKEN a random token is made for this run and handed to every
    service (the inbox and the reminder worker call the API) through `env`.
    """
    if settings.rasa_token:
        return settings
    env["RASA_TOKEN"] = secrets.token_urlsafe(24)
    return dataclasses.replace(settings, rasa_token=env["RASA_TOKEN"])


@dataclass(frozen=True)
class RestartPolicy:
    """How soon a service that died is started again, and how long one gets to stop.

    The n-th death in a row waits ``first_delay * 2**(n-1)`` seconds (1 s, 2 s,
    4 s ...), at most ``max_delay``; a service that stayed up ``stable_after``
    seconds starts from ``first_delay`` again. On shutdown each service gets
    ``stop_grace`` seconds after SIGTERM before it is killed.
    """

    first_delay: float = 1.0
    max_delay: float = 60.0
    stable_after: float = 60.0
    stop_grace: float = 15.0

    def delay(self, deaths_in_a_row: int) -> float:
        return min(self.max_delay, self.first_delay * 2 ** (deaths_in_a_row - 1))


@dataclass
class _Child:
    """One service under supervision: its current process and its recent deaths."""

    service: Service
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    deaths_in_a_row: int = 0
    restart_at: float | None = None

    @property
    def log_name(self) -> str:
        return self.service.name.split()[0]

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _how_it_ended(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.0f} min"


class Supervisor:
    """Starts the services, restarts one that dies (with backoff), and stops them all on a signal.

    SIGTERM, SIGINT and SIGHUP only note that a stop was asked for; the loops
    look at the note, so a signal never interrupts a shutdown half-way. A
    second signal during the shutdown kills what is still running at once.
    Each service runs in its own process group (its own session): stopping one
    stops whatever it started too.
    """

    STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, services: list[Service], env: dict[str, str], policy: RestartPolicy = RestartPolicy(),
                 clock=time.monotonic) -> None:
        self.children = [_Child(service) for service in services]
        self.env = env
        self.policy = policy
        self.clock = clock
        self.signals: list[int] = []

    def handle_stop_signals(self) -> None:
        """Ctrl-C, `kill` (SIGTERM, as systemd and Docker stop) and a closed terminal all stop every service.

        The services run in their own sessions, so a signal to the supervisor
        alone would leave them running without it; and a shell that starts the
        supervisor in the background makes it ignore SIGINT unless it is set again here.
        """
        for signum in self.STOP_SIGNALS:
            signal.signal(signum, lambda signum, frame: self.signals.append(signum))

    @property
    def stopping(self) -> bool:
        return bool(self.signals)

    def start(self, child: _Child) -> None:
        # umask: what a service creates (Rasa's tracker database, say) is private, like its log.
        with open_private_append(VAR / f"{child.log_name}.log") as log:
            child.process = subprocess.Popen(child.service.command, cwd=ROOT, env=self.env, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True,
                                             umask=PRIVATE_UMASK)
        child.started_at, child.restart_at = self.clock(), None

    def start_all(self) -> None:
        for child in self.children:
            if not self.stopping:
                self.start(child)

    def wait_until_listening(self, host: str, wait_seconds: float) -> bool:
        """True once every service with a port answers; False if one died first or took too long."""
        deadline = self.clock() + wait_seconds
        for child in self.children:
            while child.service.port and not self.stopping and not _port_open(host, child.service.port):
                if not child.alive() or self.clock() > deadline:
                    print(f"{child.service.name} did not start; see var/{child.log_name}.log", file=sys.stderr)
                    return False
                time.sleep(0.2)
        return True

    def check(self) -> None:
        """Note every service that died since the last check; start again those whose wait is over."""
        now = self.clock()
        for child in self.children:
            if child.process is None:
                continue
            if child.restart_at is None and not child.alive():
                ran = now - child.started_at
                _kill_group(child.process, signal.SIGKILL)  # whatever it started dies with it
                child.deaths_in_a_row = 1 if ran >= self.policy.stable_after else child.deaths_in_a_row + 1
                delay = self.policy.delay(child.deaths_in_a_row)
                child.restart_at = now + delay
                logger.warning("%s %s after running %s; restarting in %s (death %d in a row); see var/%s.log",
                               child.service.name, _how_it_ended(child.process.returncode), _seconds(ran),
                               _seconds(delay), child.deaths_in_a_row, child.log_name)
            elif child.restart_at is not None and now >= child.restart_at and not self.stopping:
                self.start(child)
                logger.info("%s restarted (pid %d)", child.service.name, child.process.pid)

    def supervise(self) -> None:
        """Keep every service running until a stop signal arrives."""
        while not self.stopping:
            self.check()
            time.sleep(0.2)

    def stop_all(self) -> None:
        """SIGTERM to every service; killed after ``stop_grace`` s or at the next signal; returns when all are gone."""
        asked = 1 if self.signals else 0  # the signal that asked for this stop, if one did
        print("\nStopping all services...", flush=True)
        # A service waiting for its restart was killed, with its group, when its death was noted.
        running = [child.process for child in self.children if child.process is not None and child.restart_at is None]
        for process in running:
            _kill_group(process, signal.SIGTERM)
        deadline = self.clock() + self.policy.stop_grace
        while any(p.poll() is None for p in running):
            if len(self.signals) > asked:
                logger.warning("stop signal again: killing what is still running")
                break
            if self.clock() > deadline:
                late = [c.service.name for c in self.children if c.process in running and c.alive()]
                logger.warning("%s did not stop within %s of SIGTERM: killed", ", ".join(late),
                               _seconds(self.policy.stop_grace))
                break
            time.sleep(0.05)
        for process in running:
            _kill_group(process, signal.SIGKILL)  # also whatever a service left behind in its group
            process.wait()


def _kill_group(process: subprocess.Popen | None, signum: int) -> None:
    if process is None:
        return
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):  # the group is gone already
        pass


def run_services(settings: Settings, model: str | None = None, wait_seconds: float = 300,
                 policy: RestartPolicy = RestartPolicy()) -> int:
    """Start every service, keep them running, stop them all on SIGTERM, SIGINT or SIGHUP.

    Returns 0 after a stop signal, 1 if a service did not come up at start
    (a port in use, a service that died before it listened).
    """
    model = model or str(ROOT / "models")
    busy = [s for s in services(settings, model) if s.port and _port_open(settings.host, s.port)]
    if busy:
        names = ", ".join(f"{s.name} ({s.port})" for s in busy)
        print(f"Cannot start: port already in use for {names}. Is `make run` already running?", file=sys.stderr)
        return 1
    private_dir(VAR, tighten=True)  # logs, databases, backups: the owner's only
    _write_demo_contacts()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    settings = secured(settings, env)
    supervisor = Supervisor(services(settings, model), env, policy)
    supervisor.handle_stop_signals()
    try:
        supervisor.start_all()
        if not supervisor.wait_until_listening(settings.host, wait_seconds):
            return 1
        if not supervisor.stopping:
            _print_summary(settings)
        supervisor.supervise()
        return 0
    finally:
        supervisor.stop_all()
        print("All services stopped.", flush=True)


def _print_summary(settings: Settings) -> None:
    host = settings.host
    lines = [
        "",
        "The practice's SMS assistant is running (Ctrl-C stops everything):",
        f"  SMS gateway        http://{host}:{settings.sms_port}  (Twilio webhook: {settings.public_base_url}/webhooks/twilio/webhook)",
        f"  Rasa server        http://{host}:{settings.rasa_port}",
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
