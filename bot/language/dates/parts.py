"""The parts of the day, defined once: what "morning", "lunch" or "after work" mean on the clock.

Minutes after midnight, [start, end). They are the practice's, not a language's: each vocabulary
(vocabulary/en.py) only says which of its words name which part.
"""
from __future__ import annotations

NOON = 720
# (start, end) minutes after midnight; see the conventions in bot/language/dates/__init__.py.
PARTS: dict[str, tuple[int, int]] = {
    "morning": (480, 720), "afternoon": (720, 1020), "evening": (1020, 1260),
    "early morning": (480, 600), "late morning": (600, 720), "mid morning": (540, 660),
    "early afternoon": (720, 840), "late afternoon": (900, 1020), "mid afternoon": (780, 960),
    "early evening": (1020, 1140), "late evening": (1140, 1260),
    "lunch": (690, 810), "early": (480, 600), "late": (900, 1020),
}
# "after work", "after school": when those end.
WORK_ENDS = 1020
SCHOOL_ENDS = 900


def in_part(minute: int, part: tuple[int, int]) -> bool:
    """True when ``minute`` (after midnight) lies in ``part``: [from, to), or exactly from when from == to."""
    lo, hi = part
    return minute == lo if lo == hi else lo <= minute < hi
