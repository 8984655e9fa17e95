"""What every language's vocabulary shares: token boundaries and building an alternation of words."""
from __future__ import annotations

import re


def alt(words) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


B = r"(?<![\w$#/.:'-])"   # start of a free-standing token
E = r"(?![\w/]|[:.-]\d)"   # end of a free-standing token


def word_before(text: str, pos: int) -> str:
    m = re.search(r"([\w'@]+)\W*$", text[:pos])
    return m.group(1) if m else ""


def word_after(text: str, pos: int) -> str:
    m = re.match(r"[\s,]*([\w'@-]+)", text[pos:])
    return m.group(1) if m else ""
