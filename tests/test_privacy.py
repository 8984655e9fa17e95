"""Phone numbers never reach a log in full; numbers that are not phones reach it unchanged."""
from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.privacy import PhoneMaskingFilter, install_log_masking, mask_phone, mask_phones_in
from bot.settings import ROOT, Settings
from channels.sms_twilio.client import make_twilio_client
from workers.supervisor import services


@pytest.mark.parametrize("text, masked", [
    ("+15035550123", "+1503***0123"),
    ("+1 503 555 0123", "+1503***0123"),
    ("+1 (503) 555-0123", "+1503***0123"),
    ("(503) 555-0123", "503***0123"),
    ("503-555-0123", "503***0123"),
    ("503.555.0123", "503***0123"),
    ("5035550123", "503***0123"),
    ("1-503-555-0123", "1503***0123"),
    ("%2B15035550123", "%2B1503***0123"),
    ("+44 20 7946 0958", "+4420***0958"),
])
def test_a_phone_in_any_usual_shape_is_masked(text, masked):
    assert mask_phones_in(f"text from {text} today") == f"text from {masked} today"


@pytest.mark.parametrize("line", [
    "GET /2010-04-01/Accounts/ACtest/Messages.json?To=%2B15035550123&PageSize=50",
    "POST http://127.0.0.1:5005/conversations/+15035550123/tracker/events?token=t",
    '{"sender_id": "+15035550123", "event": "user"}',
    "reminders to +15035550123, +15035550124 and (503) 555-0125.",
])
def test_phones_inside_urls_json_and_lists_are_masked(line):
    masked = mask_phones_in(line)
    assert "5550123" not in masked and "5550124" not in masked and "555-0125" not in masked
    assert masked.count("***") == line.count("555")


@pytest.mark.parametrize("text", [
    "HTTP 500 (20500)",
    "Twilio error 21610: unsubscribed recipient",
    "error 30007 for outbox 123456",
    "appointment 98765 moved, reminder 1234567",
    "SM0123456789abcdef0123456789abcdef and AC5035550123abcdef0123456789abcd",
    "MG5035550123",
    "2027-03-01T09:00:00+00:00",
    "2027-03-01 09:00:00.123456",
    "20270301 090000",
    "at 1767225600 (unix) or 1767225600123 ms",
    "took 5035550123ns",
    "$1,234.56 and 1234567.89 and 0.5035550123",
    "listening on 127.0.0.1:5005, version 3.10.13",
    "12345678901234567890",
])
def test_numbers_that_are_not_phones_are_left_alone(text):
    assert mask_phones_in(text) == text


def test_masking_twice_changes_nothing_more():
    once = mask_phones_in("to +15035550123")
    assert mask_phones_in(once) == once == "to +1503***0123"


def test_mask_phone_keeps_enough_to_tell_numbers_apart():
    assert mask_phone("+15035550123") == "+1503***0123"
    assert mask_phone("+15035550124") != mask_phone("+15035550123")
    assert mask_phone("12") == "***"


def test_the_filter_masks_arguments_tracebacks_and_extra_fields():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "text from %s", ("+15035550123",), None)
    record.request = "POST /conversations/+15035550123/tracker/events"
    try:
        raise ValueError("bad number +15035550123")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert PhoneMaskingFilter().filter(record)
    text = logging.Formatter("%(message)s %(request)s").format(record)
    assert "5550123" not in text and text.count("+1503***0123") == 4  # message, extra, source line, error


def test_the_twilio_sdk_logs_no_request_and_its_warnings_are_masked(twilio_stub, caplog):
    """The SDK logs each request's URL and parameters (the patient's phone) at INFO: that is turned off."""
    install_log_masking()
    client = make_twilio_client(twilio_stub.account_sid, twilio_stub.auth_token, twilio_stub.base_url)
    with caplog.at_level(logging.DEBUG):
        client.messages.create(to="+15035550123", from_="+15035550199", body="Reminder")
        logging.getLogger("twilio.http_client").warning("POST Request: To=%s", "+15035550123")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("twilio")] == ["POST Request: To=+1503***0123"]


MASKED_PROCESS = """
import logging, logging.config, sys
from bot.privacy import install_log_masking
install_log_masking("INFO")
# a framework replaces every handler after the import (as Rasa's coloredlogs and Sanic's dictConfig do)
logging.config.dictConfig({"version": 1, "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
                           "root": {"handlers": ["out"], "level": "INFO"}})
logging.getLogger("twilio.http_client").warning("GET Request: https://api.twilio.com/Messages.json?To=%2B15035550123")
logging.getLogger("rasa.core").info("sender %s", "+15035550123")
try:
    raise RuntimeError("text to +15035550123 failed")
except RuntimeError:
    logging.getLogger("bot").exception("failed")
raise RuntimeError("uncaught for +15035550123")
"""


def test_a_process_masks_after_its_handlers_are_replaced_and_in_an_uncaught_traceback():
    done = subprocess.run([sys.executable, "-c", MASKED_PROCESS], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 1
    assert "5550123" not in done.stderr, done.stderr
    assert done.stderr.count("1503***0123") == 4 and "To=%2B1503***0123" in done.stderr, done.stderr


def test_installing_twice_masks_once(caplog):
    install_log_masking()
    install_log_masking()
    with caplog.at_level(logging.INFO):
        logging.getLogger("bot.test").info("to %s", "+15035550123")
    assert caplog.messages[-1] == "to +1503***0123"


LEAK_WHEN_TOLD = """
import logging, os, runpy, sys, threading, time
go, module = sys.argv[1], sys.argv[2]

def leak():  # what a library might log, once the service has set up its logging
    while not os.path.exists(go):
        time.sleep(0.05)
    logging.getLogger("twilio.http_client").warning("GET Request: https://api.twilio.com/Messages.json?To=%2B15035550123")
    logging.getLogger("rasa.core.processor").warning("Starting a new session for conversation ID '+1 (503) 555-0123'.")
    try:
        raise RuntimeError("text to 503-555-0123 failed")
    except RuntimeError:
        logging.getLogger("some.library").exception("failed")
    logging.getLogger("some.library").warning("LEAKED")

threading.Thread(target=leak, daemon=True).start()
sys.argv = [module, *sys.argv[3:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert process.poll() is None, f"exited early:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("name", ["twilio stub + simulator", "staff inbox", "outbox sender", "reminder worker",
                                  "actions"])
def test_every_service_masks_what_any_library_logs_once_it_runs(name, tmp_path, sqlite_url, engine):
    """Each service as `make run` starts it (same command, LOG_LEVEL=DEBUG); Rasa itself: tests/test_end_to_end.py."""
    ports = {"ACTION_PORT": _free_port(), "STAFF_PORT": _free_port(), "STUB_PORT": _free_port()}
    settings = Settings(action_port=ports["ACTION_PORT"], staff_port=ports["STAFF_PORT"],
                        stub_port=ports["STUB_PORT"], twilio_api_base=f"http://127.0.0.1:{ports['STUB_PORT']}")
    [service] = [s for s in services(settings, str(ROOT / "models")) if s.name == name]
    command = [str(tmp_path / "demo_contacts.json") if arg.endswith("demo_contacts.json") else arg
               for arg in service.command]
    (tmp_path / "demo_contacts.json").write_text("[]")
    program, *args = command
    module, args = (args[1], args[2:]) if program == sys.executable else ("rasa", args)
    go, log = tmp_path / "go", tmp_path / "service.log"
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "DEBUG",
           "DATABASE_URL": sqlite_url, "TWILIO_API_BASE": settings.twilio_api_base, "RASA_URL": "http://127.0.0.1:9",
           "REMINDER_WORKER_INTERVAL": "3600"}
    process = subprocess.Popen([sys.executable, "-c", LEAK_WHEN_TOLD, str(go), module, *args], cwd=ROOT, env=env,
                               stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if service.port:
            _wait(lambda: _port_open(service.port), process, log)
        else:
            _wait(lambda: log.read_text().strip(), process, log)  # its first line comes after its logging is set up
        if name.startswith("twilio stub"):  # the stub logs each request line at DEBUG (this one: 401, unsigned)
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(f"http://127.0.0.1:{service.port}/2010-04-01/Accounts/"
                                       f"{settings.twilio_account_sid}/Messages.json?To=%2B15035550123", timeout=10)
        go.touch()
        _wait(lambda: "LEAKED" in log.read_text(), process, log)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    text = log.read_text()
    assert not re.search(r"555\D{0,2}0123", text), text[-3000:]
    assert "%2B1503***0123" in text and "'+1503***0123'" in text and "503***0123 failed" in text, text[-3000:]
    if name.startswith("twilio stub"):
        assert text.count("To=%2B1503***0123") == 2, text[-3000:]
