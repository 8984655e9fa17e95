"""`make mutate`'s report: every mutant that survived mutmut, with the note that says why it is harmless.

mutmut (configured in pyproject.toml, [tool.mutmut]) changes one thing at a time in the
modules that guard the promises (consent keywords, quiet hours, the emergency safety net,
the inbox's access checks) and runs their tests; a mutant "survives" when no test fails.
Each survivor is either a missing test (write it) or harmless (an equivalent change, or a
detail no promise depends on): then it gets a note in docs/mutation-notes.yml, matched by
the function and the mutated line, so the note survives renumbering of mutants.

Exit status 1 when a survivor has no note.
"""
from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.settings import ROOT

NOTES = ROOT / "docs" / "mutation-notes.yml"
MUTMUT = str(Path(sys.executable).with_name("mutmut"))


@dataclass(frozen=True)
class Survivor:
    name: str      # mutmut's id, e.g. bot.messaging.quiet_hours.xǁSendingWindowǁnext_allowed__mutmut_17
    function: str  # bot.messaging.quiet_hours.SendingWindow.next_allowed
    removed: str   # the original line(s), stripped
    added: str     # the mutated line(s), stripped


def function_of(name: str) -> str:
    module, _, rest = name.rpartition(".")
    rest = re.sub(r"__mutmut_\d+$", "", rest)
    rest = rest[2:] if rest.startswith("x_") else rest.lstrip("x")
    return f"{module}.{rest.strip('ǁ').replace('ǁ', '.')}"


def _normal(line: str) -> str:
    return " ".join(line.split())


def survivors() -> list[Survivor]:
    listed = subprocess.run([MUTMUT, "results"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    found = []
    for line in listed.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if status.strip() != "survived":
            continue
        diff = subprocess.run([MUTMUT, "show", name], cwd=ROOT, capture_output=True, text=True).stdout
        removed = " / ".join(_normal(l[1:]) for l in diff.splitlines() if l.startswith("-") and not l.startswith("---"))
        added = " / ".join(_normal(l[1:]) for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++"))
        found.append(Survivor(name, function_of(name), removed, added))
    return found


def load_notes() -> list[dict]:
    return (yaml.safe_load(NOTES.read_text(encoding="utf-8")) or []) if NOTES.exists() else []


def note_for(survivor: Survivor, notes: list[dict]) -> str | None:
    for note in notes:
        if note["function"] != survivor.function:
            continue
        if "mutated" not in note or _normal(note["mutated"]) == survivor.added:
            return note["note"]
    return None


def main() -> int:
    notes = load_notes()
    found = survivors()
    unexplained = 0
    by_function: dict[str, list[Survivor]] = {}
    for survivor in found:
        by_function.setdefault(survivor.function, []).append(survivor)
    for function, group in sorted(by_function.items()):
        print(f"\n{function}")
        for survivor in group:
            note = note_for(survivor, notes)
            unexplained += note is None
            print(f"  - {survivor.removed}\n  + {survivor.added}")
            print(f"    {'note: ' + note if note else 'NO NOTE: a missing test, or add a note to ' + str(NOTES.relative_to(ROOT))}")
    print(f"\n{len(found)} mutants survived; {len(found) - unexplained} have a note, {unexplained} have none.")
    return 1 if unexplained else 0


if __name__ == "__main__":
    raise SystemExit(main())
