"""Benchmark (not a test): NLU training time and parse latency per message on this machine.

Run: .venv/bin/python bench/bench_nlu.py [--config config.yml] [--model models/practice.tar.gz]
Trains config.yml's NLU once with `rasa train nlu` into a temporary directory
(the wall-clock time of the whole command, as a trainer experiences it), then
parses every held-out text (tests/nlu_heldout.yml) in-process and prints the
median and 95th percentile per message. With --model, times that model's
parsing instead of training one. Prints machine facts with the figures; a busy
machine (see the load average) makes both slower.
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.settings import ROOT  # noqa: E402
from tools.evaluate import HELDOUT, load_examples, parse_with_model, percentile  # noqa: E402


def machine() -> str:
    import rasa

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.node()}: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
            f"rasa {rasa.__version__}, load average {load}")


def train_once(config: Path, out: Path) -> tuple[Path, float]:
    """`rasa train nlu` as a subprocess; returns the model and wall-clock seconds."""
    rasa = Path(sys.executable).with_name("rasa")
    command = [str(rasa), "train", "nlu", "--config", str(config), "--nlu", str(ROOT / "data" / "nlu"),
               "--out", str(out), "--fixed-model-name", "bench", "--quiet"]
    # PYTHONPATH: config.yml names nlu.emergency_override. RASA_CACHE_DIRECTORY: a cold cache,
    # else Rasa reuses components trained by an earlier `make train` and the time means nothing.
    environment = dict(os.environ, PYTHONPATH=str(ROOT), RASA_CACHE_DIRECTORY=str(out / "rasa-cache"))
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=environment, check=True, stdout=subprocess.DEVNULL)
    return out / "bench.tar.gz", time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "config.yml"))
    parser.add_argument("--model", help="time this model's parsing; skip training")
    args = parser.parse_args()
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.simplefilter("ignore", category)  # TensorFlow's, matplotlib's and Rasa's, not ours
    logging.basicConfig(level=logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # else every parsed text is printed at debug level

    print(machine())
    texts = [text for text, _ in load_examples(HELDOUT)[0]]
    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
        if args.model:
            model = Path(args.model)
        else:
            model, seconds = train_once(Path(args.config), Path(tmp))
            print(f"rasa train nlu ({Path(args.config).name}, data/nlu): {seconds:.1f} s wall clock")
        _, timings, _ = parse_with_model(model, texts, warmup=5)
    print(f"parse latency over {len(timings)} held-out texts: median {statistics.median(timings):.1f} ms, "
          f"p95 {percentile(timings, 95):.1f} ms, max {max(timings):.1f} ms")
    print(machine())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
