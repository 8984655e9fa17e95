"""`make run`'s supervisor: which services it starts, that Rasa's HTTP API never runs open, that a
service that dies is started again (ever later while it keeps dying), and that stopping the supervisor,
with any number of signals, stops everything it started."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from bot.settings import ROOT, VAR, Settings
from workers.supervisor import RestartPolicy, secured, services


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


SUPERVISE = """
import json, logging, sys
import workers.supervisor as sv
from bot.settings import Settings, VAR

spec = json.loads(sys.argv[1])
logging.basicConfig(level="INFO", format="%(message)s")
sv._write_demo_contacts = lambda: VAR.mkdir(exist_ok=True)
sv._print_summary = lambda settings: print("READY", flush=True)
sv.services = lambda settings, model: [sv.Service(name, [sys.executable, "-c", code, path])
                                       for name, code, path in spec["services"]]
raise SystemExit(sv.run_services(Settings(rasa_token="t"), policy=sv.RestartPolicy(**spec["policy"])))
"""

# Services: each writes a line to the file it is given every time it starts.
SLEEPER = "import os, sys, time; open(sys.argv[1], 'a').write(f'{os.getpid()}\\n'); time.sleep(120)"
DIES_AT_ONCE = "import sys, time; open(sys.argv[1], 'a').write(f'{time.monotonic()}\\n'); sys.exit(3)"
DIES_AFTER_HALF_A_SECOND = "import sys, time; open(sys.argv[1], 'a').write('x\\n'); time.sleep(0.5); sys.exit(1)"
IGNORES_SIGTERM = ("import os, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "open(sys.argv[1], 'a').write(f'{os.getpid()}\\n'); time.sleep(120)")
# Like a reminder worker in the middle of a batch: SIGTERM makes it finish first (here: 60 s), and it has
# a child of its own (its pid on the same line).
SLOW_TO_STOP = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, lambda *_: time.sleep(60))
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(sys.argv[1], "a").write(f"{os.getpid()} {child.pid}\\n")
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by whoever adopted it, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _lines(path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _wait_for(predicate, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


class Supervised:
    """`python -m bot run`'s supervisor as a real process over test services; cleans up after itself."""

    def __init__(self, tmp_path, services: dict[str, str], ignore_sigint: bool = False, **policy):
        self.files = {name: tmp_path / f"{name}.out" for name in services}
        preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
        spec = {"services": [[name, code, str(self.files[name])] for name, code in services.items()],
                "policy": {"first_delay": 0.3, **policy}}
        self.process = subprocess.Popen([sys.executable, "-c", SUPERVISE, json.dumps(spec)], cwd=ROOT,
                                        env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
        self.stderr = ""

    def __enter__(self) -> "Supervised":
        assert self.process.stdout.readline().strip() == "READY"
        _wait_for(lambda: all(_lines(f) for f in self.files.values()), "the services did not start")
        return self

    def pids(self) -> list[int]:
        return [int(pid) for f in self.files.values() for pid in _lines(f) if pid.isdigit()]

    def stopped(self, timeout: float = 30) -> int:
        """The supervisor's exit code; its log (stderr) in self.stderr."""
        out, self.stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        for pid in self.pids():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        for name in self.files:
            (VAR / f"{name}.log").unlink(missing_ok=True)


@pytest.mark.parametrize("signum, ignore_sigint", [
    (signal.SIGTERM, False),  # `kill`, systemd, docker stop
    (signal.SIGINT, True),    # Ctrl-C, even when a shell started it in the background (SIGINT ignored)
    (signal.SIGHUP, False),   # the terminal closed
])
def test_a_signal_to_the_supervisor_stops_every_service(tmp_path, signum, ignore_sigint):
    sleepers = {"test-sleeper-1": SLEEPER, "test-sleeper-2": SLEEPER}
    with Supervised(tmp_path, sleepers, ignore_sigint=ignore_sigint) as run:
        services = run.pids()
        assert len(services) == 2 and all(_alive(pid) for pid in services)
        run.process.send_signal(signum)
        assert run.stopped() == 0
        assert not any(_alive(pid) for pid in services)


def test_a_killed_service_is_started_again_and_the_others_keep_running(tmp_path):
    with Supervised(tmp_path, {"test-victim": SLEEPER, "test-bystander": SLEEPER}) as run:
        [victim], [bystander] = _lines(run.files["test-victim"]), _lines(run.files["test-bystander"])
        os.kill(int(victim), signal.SIGKILL)
        _wait_for(lambda: len(_lines(run.files["test-victim"])) == 2, "the killed service was not restarted")
        restarted = int(_lines(run.files["test-victim"])[1])
        assert _alive(restarted) and not _alive(int(victim))
        assert _lines(run.files["test-bystander"]) == [bystander] and _alive(int(bystander))

        run.process.send_signal(signal.SIGTERM)
        assert run.stopped() == 0
        assert not any(_alive(pid) for pid in run.pids())
    assert "test-victim was killed by SIGKILL after running" in run.stderr, run.stderr
    assert "restarting in 0.3 s (death 1 in a row)" in run.stderr and "test-victim restarted (pid" in run.stderr


def test_a_service_that_keeps_dying_is_restarted_ever_later_up_to_the_cap(tmp_path):
    with Supervised(tmp_path, {"test-crasher": DIES_AT_ONCE}, max_delay=1.0) as run:
        _wait_for(lambda: len(_lines(run.files["test-crasher"])) >= 5, "not restarted four times")
        run.process.send_signal(signal.SIGTERM)
        assert run.stopped() == 0
    starts = [float(t) for t in _lines(run.files["test-crasher"])]
    waits = [later - earlier for earlier, later in zip(starts, starts[1:])]
    assert all(wait >= delay for wait, delay in zip(waits, [0.3, 0.6, 1.0, 1.0])), waits
    said = re.findall(r"test-crasher exited with code 3 after running [\d.]+ s; restarting in ([\d.]+ s)", run.stderr)
    assert said[:4] == ["0.3 s", "0.6 s", "1.0 s", "1.0 s"], run.stderr


def test_a_service_that_ran_a_while_before_it_died_is_restarted_after_the_first_delay_again(tmp_path):
    with Supervised(tmp_path, {"test-stable": DIES_AFTER_HALF_A_SECOND}, stable_after=0.4) as run:
        _wait_for(lambda: len(_lines(run.files["test-stable"])) >= 4, "not restarted three times")
        run.process.send_signal(signal.SIGTERM)
        assert run.stopped() == 0
    said = re.findall(r"test-stable exited with code 1 after running [\d.]+ s; restarting in (.+)", run.stderr)
    assert said[:3] == ["0.3 s (death 1 in a row); see var/test-stable.log"] * 3, run.stderr


@pytest.mark.parametrize("signals", [
    (signal.SIGTERM, signal.SIGINT),
    (signal.SIGTERM, signal.SIGHUP, signal.SIGTERM),
])
def test_more_signals_during_the_shutdown_leave_no_process_behind(tmp_path, signals):
    slow = {"test-worker-1": SLOW_TO_STOP, "test-worker-2": SLOW_TO_STOP}
    with Supervised(tmp_path, slow, stop_grace=60) as run:
        everything = run.pids()  # both services and a child of each
        assert len(everything) == 4 and all(_alive(pid) for pid in everything)
        first, *more = signals
        run.process.send_signal(first)
        _wait_for(lambda: run.process.stdout.readline().strip() == "Stopping all services...", "no shutdown")
        for signum in more:
            run.process.send_signal(signum)
        code = run.stopped(timeout=20)  # well inside the 60 s the workers would take
        assert [pid for pid in everything if _alive(pid)] == []
        assert code == 0
    assert "stop signal again: killing what is still running" in run.stderr


def test_a_service_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    with Supervised(tmp_path, {"test-stubborn": IGNORES_SIGTERM, "test-polite": SLEEPER}, stop_grace=1.0) as run:
        services = run.pids()
        began = time.monotonic()
        run.process.send_signal(signal.SIGTERM)
        assert run.stopped() == 0
        assert time.monotonic() - began >= 1.0
        assert [pid for pid in services if _alive(pid)] == []
    assert "test-stubborn did not stop within 1.0 s of SIGTERM: killed" in run.stderr, run.stderr


def test_the_restart_delay_doubles_from_one_second_up_to_a_minute():
    assert [RestartPolicy().delay(n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
