"""The real services of `make run` on free loopback ports, for tests that kill and restart them.

The Twilio stub (in this process), the action server, a Rasa server, the SMS gateway and the
outbox sender (real processes); the database and Rasa's tracker store are SQLite files in a
temporary folder. ``restart(name)`` starts a killed service again with the same command.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from bot.db import make_engine
from bot.settings import ROOT
from tools.demo import setup_database
from tools.twilio_stub import TwilioStub

RASA = str(Path(sys.executable).with_name("rasa"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveStack:
    def __init__(self, work: Path, **env: str) -> None:
        self.work = work
        self.url = f"sqlite:///{work / 'practice.db'}"
        self.ports = {name: free_port() for name in ("rasa", "actions", "sms")}
        self.rasa = f"http://127.0.0.1:{self.ports['rasa']}"
        self.gateway = f"http://127.0.0.1:{self.ports['sms']}"
        self.stub = TwilioStub(webhook_url=f"{self.gateway}/webhooks/twilio/webhook", callback_delay_ms=20)
        self.extra_env = env
        self.processes: dict[str, subprocess.Popen] = {}
        self.commands = {
            "actions": [RASA, "run", "actions", "--actions", "actions.actions", "--port", str(self.ports["actions"])],
            "rasa": [RASA, "run", "--model", str(ROOT / "models"), "--enable-api", "--interface", "127.0.0.1",
                     "--port", str(self.ports["rasa"]), "--credentials", "credentials.yml",
                     "--endpoints", "endpoints.yml"],
            "gateway": [sys.executable, "-m", "channels.sms_twilio.gateway"],
            "sender": [sys.executable, "-m", "bot", "outbox", "run"],
        }
        self.ready = {
            "actions": f"http://127.0.0.1:{self.ports['actions']}/health",
            "rasa": f"{self.rasa}/status",
            "gateway": f"{self.gateway}/webhooks/twilio/",
        }

    def start(self) -> "LiveStack":
        setup_database(self.url, str(ROOT / "bot" / "demo_practice.yml"), datetime.now(timezone.utc))
        self.stub.start()
        self.env = dict(
            os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=self.url, ACTION_PORT=str(self.ports["actions"]),
            RASA_PORT=str(self.ports["rasa"]), SMS_PORT=str(self.ports["sms"]), RASA_URL=self.rasa,
            TRACKER_DIALECT="sqlite", TRACKER_DB_URL="", TRACKER_DB=str(self.work / "tracker.db"),
            LOCK_STORE_TYPE="in_memory", LOCK_STORE_URL="127.0.0.1", LOCK_STORE_PORT="6379",
            TWILIO_API_BASE=self.stub.base_url, TWILIO_ACCOUNT_SID=self.stub.account_sid,
            TWILIO_AUTH_TOKEN=self.stub.auth_token, PUBLIC_BASE_URL=self.gateway, SMS_SEND_RATE="0",
            TF_CPP_MIN_LOG_LEVEL="2", **self.extra_env,
        )
        for name in self.commands:
            self._spawn(name)
        for name in self.ready:
            self.wait_ready(name)
        return self

    def _spawn(self, name: str) -> None:
        log = open(self.work / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(self.commands[name], cwd=ROOT, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT)

    def wait_ready(self, name: str, seconds: float = 240) -> None:
        url, process = self.ready[name], self.processes[name]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{self.log(name)[-4000:]}")
            try:
                urllib.request.urlopen(url, timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers (a degraded health is still an answer)
            except Exception:
                time.sleep(0.5)
        raise RuntimeError(f"{name} did not answer in {seconds}s:\n{self.log(name)[-4000:]}")

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def restart(self, name: str) -> None:
        self._spawn(name)
        if name in self.ready:
            self.wait_ready(name)

    def log(self, name: str) -> str:
        path = self.work / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def engine(self):
        return make_engine(self.url)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.stub.stop()
