"""`make run`'s supervisor: which services it starts, that Rasa's HTTP API never runs open, and that
stopping the supervisor stops everything it started."""
import os
import signal
import subprocess
import sys
import time

import pytest

from bot.settings import ROOT, VAR, Settings
from bot.supervisor import secured, services


def _rasa_command(settings: Settings) -> list[str]:
    [rasa] = [s for s in services(settings, "models") if s.name == "rasa"]
    return rasa.command


def test_without_rasa_token_a_random_one_is_made_for_the_run_and_shared_with_every_service():
    env: dict[str, str] = {}
    settings = secured(Settings(rasa_token=""), env)
    command = _rasa_command(settings)
    assert len(env["RASA_TOKEN"]) >= 24 and settings.rasa_token == env["RASA_TOKEN"]
    assert command[command.index("--auth-token") + 1] == env["RASA_TOKEN"]
    assert secured(Settings(rasa_token=""), {}).rasa_token != settings.rasa_token  # never a fixed value


def test_the_operators_rasa_token_is_kept():
    env: dict[str, str] = {}
    settings = secured(Settings(rasa_token="operator-chosen"), env)
    assert env == {} and settings.rasa_token == "operator-chosen"
    command = _rasa_command(settings)
    assert command[command.index("--auth-token") + 1] == "operator-chosen"


def test_every_service_is_started_and_the_stub_only_for_the_local_twilio():
    local = [s.name for s in services(Settings(twilio_api_base="http://127.0.0.1:8099"), "models")]
    assert local[0] == "twilio stub + simulator"
    assert {"actions", "rasa", "staff inbox", "outbox sender", "reminder worker"} <= set(local)
    real = [s.name for s in services(Settings(twilio_api_base="https://api.twilio.com"), "models")]
    assert "twilio stub + simulator" not in real


SUPERVISE_TWO_SLEEPERS = """
import sys
import bot.supervisor as sv
from bot.settings import Settings, VAR

def sleeper(name, pid_file):
    code = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"
    return sv.Service(name, [sys.executable, "-c", code, pid_file])

sv._write_demo_contacts = lambda: VAR.mkdir(exist_ok=True)
sv._print_summary = lambda settings: print("READY", flush=True)
sv.services = lambda settings, model: [sleeper("test-sleeper-1", sys.argv[1]), sleeper("test-sleeper-2", sys.argv[2])]
raise SystemExit(sv.run_services(Settings(rasa_token="t")))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum, ignore_sigint", [
    (signal.SIGTERM, False),  # `kill`, systemd, docker stop
    (signal.SIGINT, True),    # Ctrl-C, even when a shell started it in the background (SIGINT ignored)
    (signal.SIGHUP, False),   # the terminal closed
])
def test_a_signal_to_the_supervisor_stops_every_service(tmp_path, signum, ignore_sigint):
    pid_files = [tmp_path / "one.pid", tmp_path / "two.pid"]
    preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISE_TWO_SLEEPERS, *map(str, pid_files)],
                                  cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                  stdout=subprocess.PIPE, text=True, preexec_fn=preexec)
    try:
        assert supervisor.stdout.readline().strip() == "READY"
        deadline = time.monotonic() + 30
        while not all(p.exists() and p.read_text() for p in pid_files):
            assert time.monotonic() < deadline, "the services did not start"
            time.sleep(0.1)
        services = [int(p.read_text()) for p in pid_files]
        assert all(_alive(pid) for pid in services)

        supervisor.send_signal(signum)
        assert supervisor.wait(timeout=30) == 0
        assert not any(_alive(pid) for pid in services)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        for p in pid_files:
            if p.exists() and p.read_text() and _alive(int(p.read_text())):
                os.kill(int(p.read_text()), signal.SIGKILL)
        for log in VAR.glob("test-sleeper-*.log"):
            log.unlink()
