"""Benchmark (not a test): the SMS pipeline against the same model served through Rasa's REST channel.

Run: .venv/bin/python bench/bench_pipeline.py [--quick]

Starts, on loopback in a temporary directory: the Twilio stub, the action server, one Rasa
server with both the REST channel and the project's signed Twilio channel (same model,
same SQL tracker store, same action server), and the outbox sender. Then, side by side:

- sequential latency: REST (request to the reply in the response) against the signed
  webhook (request to the reply arriving at the Twilio API, i.e. the stub), p50 and p95;
- burst throughput: 300 texts at 20 concurrent connections on each path, texts/s;
- the morning burst: 600 signed texts from 200 phones at 64 concurrent connections:
  stored, answered, handed to staff, lost, duplicated, and the webhook's own p50/p99.

Each text is a realistic one that changes nothing (office hours, "when is my appt",
thanks), so both paths do the same work. Prints the machine's figures alongside.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bot.db import make_engine  # noqa: E402
from bot.models import (  # noqa: E402
    Appointment,
    AppointmentStatus,
    AppointmentType,
    InboundMessage,
    OutboundMessage,
    Patient,
    Provider,
)
from bot.settings import ROOT  # noqa: E402
from channels.sms_twilio.client import signature_for  # noqa: E402
from tools.demo import setup_database  # noqa: E402

RASA = str(Path(sys.executable).with_name("rasa"))
TEXTS = ["what are your hours", "when is my appt", "thanks!", "where are you located", "do i have an appointment"]
ACCOUNT, TOKEN = "AC" + "b" * 32, "bench-auth-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def machine() -> str:
    import rasa

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, rasa {rasa.__version__}, "
            f"load average {load}")


class Stack:
    """The services of `make run`, on free ports in a temporary directory."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.db_url = f"sqlite:///{work / 'practice.db'}"
        self.ports = {name: free_port() for name in ("rasa", "actions", "stub", "sms")}
        self.rasa = f"http://127.0.0.1:{self.ports['rasa']}"
        self.stub = f"http://127.0.0.1:{self.ports['stub']}"
        self.gateway = f"http://127.0.0.1:{self.ports['sms']}"
        self.webhook = f"{self.gateway}/webhooks/twilio/webhook"
        self.env = dict(
            os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=self.db_url, ACTION_PORT=str(self.ports["actions"]),
            RASA_PORT=str(self.ports["rasa"]), SMS_PORT=str(self.ports["sms"]), TRACKER_DIALECT="sqlite", TRACKER_DB_URL="",
            TRACKER_DB=str(work / "tracker.db"), LOCK_STORE_TYPE="in_memory", LOCK_STORE_URL="127.0.0.1",
            LOCK_STORE_PORT="6379", TWILIO_API_BASE=self.stub, TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_AUTH_TOKEN=TOKEN,
            PUBLIC_BASE_URL=self.gateway, TF_CPP_MIN_LOG_LEVEL="2", LOG_LEVEL="WARNING", SMS_SEND_RATE="0",
            PYTHONHASHSEED="0", SQLALCHEMY_WARN_20="0",
        )
        self.processes: list[subprocess.Popen] = []

    def start(self, phones: list[str]) -> None:
        setup_database(self.db_url, str(ROOT / "bot" / "demo_practice.yml"), datetime.now(timezone.utc))
        self._add_patients(phones)
        self._run("stub", [sys.executable, "-m", "tools.twilio_stub", "--port", str(self.ports["stub"]),
                           "--account-sid", ACCOUNT, "--auth-token", TOKEN, "--webhook-url", self.webhook,
                           "--callback-delay-ms", "50"])
        self._run("actions", [RASA, "run", "actions", "--actions", "actions.actions",
                              "--port", str(self.ports["actions"])])
        self._run("rasa", [RASA, "run", "--model", str(ROOT / "models"), "--enable-api", "--interface",
                           "127.0.0.1", "--port", str(self.ports["rasa"]), "--credentials",
                           "tests/e2e_credentials.yml", "--endpoints", "endpoints.yml"])
        self._run("sender", [sys.executable, "-m", "bot", "outbox", "run"])
        self._run("gateway", [sys.executable, "-m", "channels.sms_twilio.gateway"])
        for url in (f"{self.stub}/_stub/info", f"{self.gateway}/webhooks/twilio/", f"http://127.0.0.1:{self.ports['actions']}/health",
                    f"{self.rasa}/status"):
            self._wait(url)

    def _add_patients(self, phones: list[str]) -> None:
        engine = make_engine(self.db_url)
        with Session(engine) as session, session.begin():
            provider = session.execute(select(Provider).order_by(Provider.id)).scalars().first()
            kind = session.execute(select(AppointmentType).where(AppointmentType.key == "follow_up")).scalar_one()
            start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(days=20)
            for n, phone in enumerate(phones):
                patient = Patient(first_name=f"Bench{n}", last_name="Patient", phone=phone)
                session.add(patient)
                session.flush()
                at = start + timedelta(minutes=15 * n)
                session.add(Appointment(patient_id=patient.id, provider_id=provider.id, appointment_type_id=kind.id,
                                        start=at, end=at + timedelta(minutes=kind.minutes), created_at=start,
                                        status=AppointmentStatus.BOOKED))
        engine.dispose()

    def _run(self, name: str, command: list[str]) -> None:
        log = open(self.work / f"{name}.log", "wb")
        self.processes.append(subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT))

    def _wait(self, url: str, seconds: float = 300) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=2)
                return
            except Exception:
                time.sleep(0.5)
        raise RuntimeError(f"{url} did not come up; see {self.work}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()

    # ----- the two ways in ---------------------------------------------------------------
    def rest(self, phone: str, text: str) -> float:
        data = json.dumps({"sender": phone, "message": text}).encode()
        started = time.time()
        request = urllib.request.Request(f"{self.rasa}/webhooks/rest/webhook", data,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            replies = json.loads(response.read())
        if not replies:
            raise RuntimeError(f"REST gave no reply to {text!r}")
        return time.time() - started

    def signed(self, phone: str, text: str, sid: str) -> tuple[float, float]:
        """POST a signed text as Twilio does; returns (started epoch, webhook seconds)."""
        form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT, "From": phone, "To": "+15035550199",
                "Body": text, "NumMedia": "0", "ApiVersion": "2010-04-01"}
        data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(self.webhook, data, {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature_for(TOKEN, self.webhook, form)})
        started = time.time()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            if response.status != 200:
                raise RuntimeError(f"webhook answered {response.status}")
        return started, time.time() - started

    def stub_messages(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.stub}/_stub/messages", timeout=30) as response:
            return json.loads(response.read())

    def wait_messages(self, count: int, timeout: float = 300) -> int:
        with urllib.request.urlopen(f"{self.stub}/_stub/wait?count={count}&timeout={timeout}",
                                    timeout=timeout + 10) as response:
            return json.loads(response.read())["messages"]


def sequential(stack: Stack, phones: list[str], n: int) -> tuple[list[float], list[float]]:
    rest, signed = [], []
    for i in range(n):
        phone, text = phones[i % len(phones)], TEXTS[i % len(TEXTS)]
        rest.append(stack.rest(phone, text))
        before = len(stack.stub_messages())
        started, _ = stack.signed(phone, text, f"SMseq{i:030d}")
        stack.wait_messages(before + 1, 60)
        reply = max(stack.stub_messages(), key=lambda m: m["created_epoch"])
        signed.append(reply["created_epoch"] - started)
    return rest, signed


def burst_rest(stack: Stack, phones: list[str], n: int, concurrency: int) -> float:
    started = time.time()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda i: stack.rest(phones[i % len(phones)], TEXTS[i % len(TEXTS)]), range(n)))
    return n / (time.time() - started)


def burst_signed(stack: Stack, phones: list[str], n: int, concurrency: int, tag: str
                 ) -> tuple[float, list[float], int]:
    """Texts/s until every reply reached Twilio, the webhook's own times, and how many replies arrived."""
    before = len(stack.stub_messages())
    started = time.time()
    with ThreadPoolExecutor(concurrency) as pool:
        webhook = [w for _, w in pool.map(
            lambda i: stack.signed(phones[i % len(phones)], TEXTS[i % len(TEXTS)], f"SM{tag}{i:028d}"), range(n))]
    arrived = stack.wait_messages(before + n, 600) - before
    last = max(m["created_epoch"] for m in stack.stub_messages())
    return n / (last - started), webhook, arrived


def morning_burst_outcome(stack: Stack, tag: str, n: int, since: float) -> dict:
    engine = make_engine(stack.db_url)
    deadline = time.monotonic() + 300
    with Session(engine) as session:
        while time.monotonic() < deadline:
            open_turns = session.execute(select(func.count(InboundMessage.id)).where(
                InboundMessage.message_sid.like(f"SM{tag}%"), InboundMessage.outcome.is_(None))).scalar_one()
            if not open_turns:
                break
            time.sleep(1)
            session.expire_all()
        outcomes = Counter(session.execute(select(InboundMessage.outcome).where(
            InboundMessage.message_sid.like(f"SM{tag}%"))).scalars())
        stored = sum(outcomes.values())
        rows = {sid for sid in session.execute(select(OutboundMessage.twilio_sid).where(
            OutboundMessage.twilio_sid.is_not(None))).scalars()}
    engine.dispose()
    at_twilio = [m for m in stack.stub_messages() if m["created_epoch"] >= since]
    # A text sent twice is a Twilio message no outbox row knows (a resend leaves the first SID orphaned).
    orphans = [m for m in at_twilio if m["sid"] not in rows]
    return {"sent": n, "stored": stored, "lost": n - stored, "answered": outcomes.get("replied", 0),
            "handed to staff": outcomes.get("handed_to_staff", 0), "no end yet": outcomes.get(None, 0),
            "texts at Twilio": len(at_twilio), "duplicated at Twilio": len(orphans)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer texts (a smoke run)")
    args = parser.parse_args()
    n_seq, n_burst, n_morning = (20, 60, 120) if args.quick else (60, 300, 600)
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    phones = [f"+1503558{n:04d}" for n in range(200)]
    stack = Stack(work)
    try:
        print(f"Pipeline benchmark on {machine()}")
        stack.start(phones)
        for i in range(10):  # warm both paths (model, connections, caches)
            stack.rest(phones[i], TEXTS[i % len(TEXTS)])
        rest, signed = sequential(stack, phones, n_seq)
        print(f"\nSequential, {n_seq} texts each      p50 ms   p95 ms")
        print(f"  REST channel (baseline)       {percentile(rest, 50) * 1000:7.0f}  {percentile(rest, 95) * 1000:7.0f}")
        print(f"  signed webhook -> Twilio      {percentile(signed, 50) * 1000:7.0f}  {percentile(signed, 95) * 1000:7.0f}"
              f"   ({percentile(signed, 95) / percentile(rest, 95):.2f}x the baseline at p95; goal <= 1.5x)")
        rest_rate = burst_rest(stack, phones, n_burst, 20)
        signed_rate, _, arrived = burst_signed(stack, phones, n_burst, 20, "b")
        print(f"\nBurst, {n_burst} texts at 20 concurrent      texts/s")
        print(f"  REST channel (baseline)       {rest_rate:7.1f}")
        print(f"  signed webhook -> Twilio      {signed_rate:7.1f}   ({signed_rate / rest_rate:.2f}x the baseline; "
              f"goal >= 0.8x; {arrived} replies)")
        since = time.time()
        _, webhook, _ = burst_signed(stack, phones, n_morning, 64, "m")
        outcome = morning_burst_outcome(stack, "m", n_morning, since)
        print(f"\nMorning burst: {n_morning} signed texts from {len(phones)} phones at 64 concurrent")
        print(f"  webhook (store and answer Twilio): p50 {percentile(webhook, 50) * 1000:.0f} ms, "
              f"p99 {percentile(webhook, 99) * 1000:.0f} ms (goal p99 < 1000 ms)")
        for key, value in outcome.items():
            print(f"  {key:22} {value}")
    finally:
        stack.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    threading.excepthook = lambda args: None
    main()
