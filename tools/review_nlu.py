"""`python -m bot review-nlu`: real patients' texts the assistant did not understand, ready to label.

The best new training examples are the texts patients actually sent that the
model fumbled: those that fell back (``nlu_fallback``/``out_of_scope``), those
handed to staff (``ticket_id`` set) and those classified with confidence
below 0.6. They are exported, deduplicated and with personal details masked
(phones, emails, every patient's first and last name -> ``[phone]``,
``[email]``, ``[name]``), into a file in Rasa's NLU format grouped by the
intent the model predicted (``to_label`` when none is known). A trainer checks
each label and moves the lines into data/nlu/<topic>.yml; nothing here writes
training data by itself.

Where the SMS channel did not store ``intent``/``confidence`` on the inbound
row, the prediction is looked up in Rasa's SQL tracker store when that is a
SQLite file (``var/rasa_tracker.db``, table ``events``): the latest ``user``
event of the same sender (the phone) with the same text.
"""
from __future__ import annotations

import argparse
import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Mapping

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import privacy
from bot.models import InboundMessage, Patient
from bot.settings import ROOT, get_settings

FALLBACK_INTENTS = ("nlu_fallback", "out_of_scope")
LOW_CONFIDENCE = 0.6
TO_LABEL = "to_label"
DEFAULT_OUT = ROOT / "reports" / "review_nlu.yml"

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

HEADER = """\
# Texts patients really sent that the assistant fell back on, handed to staff
# or was unsure about (confidence < {low}), since {since:%Y-%m-%d}. Exported {now:%Y-%m-%d %H:%M} UTC
# by `python -m bot review-nlu`; phones, emails and patients' names are masked.
#
# TRAINER: this file is NOT training data. For each line, check the intent it
# is listed under (that is the model's guess, or `to_label`), then MOVE the line
# into the right data/nlu/<topic>.yml under the correct intent (rewrite
# [name]/[phone] into a realistic example or drop it). A text goes into
# data/nlu OR tests/nlu_heldout.yml, never both. Then: make validate, make train,
# make evaluate.
"""


@dataclass(frozen=True)
class ReviewText:
    """One masked patient text to label, with why it was picked."""

    text: str
    intent: str | None
    confidence: float | None
    reason: str  # "fallback", "handed to staff" or "low confidence"


def normalised(text: str) -> str:
    """Case- and space-insensitive key used to deduplicate texts."""
    return " ".join(text.lower().split())


def patient_name_pattern(session: Session) -> re.Pattern | None:
    """A regex matching every patient's first or last name as a whole word (case-insensitive)."""
    names: set[str] = set()
    for first, last in session.execute(select(Patient.first_name, Patient.last_name)):
        for name in (first, last):
            for part in re.split(r"[\s-]+", name or ""):
                if len(part) >= 2:
                    names.add(part.lower())
    if not names:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def mask_personal_details(text: str, names: re.Pattern | None) -> str:
    """Emails, phone numbers (bot.privacy's pattern) and patients' names become placeholders."""
    masked = EMAIL_RE.sub("[email]", text)
    masked = privacy.mask_phones_in(masked, "[phone]")
    if names is not None:
        masked = names.sub("[name]", masked)
    return " ".join(masked.split())


def tracker_parses(tracker_db: Path, since: datetime) -> dict[tuple[str, str], tuple[str, float]]:
    """(sender, normalised text) -> (intent, confidence) of user events in Rasa's SQLite tracker store.

    Returns {} when the file or its `events` table does not exist. The latest event wins.
    """
    if not tracker_db.is_file():
        return {}
    parses: dict[tuple[str, str], tuple[str, float]] = {}
    connection = sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT sender_id, data FROM events WHERE type_name = 'user' AND timestamp >= ? ORDER BY timestamp",
            (since.timestamp(),))
        for sender_id, data in rows:
            try:
                event = json.loads(data or "{}")
            except ValueError:
                continue
            intent = (event.get("parse_data") or {}).get("intent") or {}
            if event.get("text") and intent.get("name"):
                parses[(sender_id, normalised(event["text"]))] = (
                    intent["name"], float(intent.get("confidence") or 0.0))
    except sqlite3.DatabaseError:  # no events table yet, or not a tracker store
        return {}
    finally:
        connection.close()
    return parses


def _reason(intent: str | None, confidence: float | None, ticket_id: int | None) -> str | None:
    if intent in FALLBACK_INTENTS:
        return "fallback"
    if ticket_id is not None:
        return "handed to staff"
    if confidence is not None and confidence < LOW_CONFIDENCE:
        return "low confidence"
    return None


def texts_for_review(session: Session, since: datetime,
                     parses: Mapping[tuple[str, str], tuple[str, float]] | None = None) -> list[ReviewText]:
    """The inbound texts since `since` worth a trainer's look, masked and deduplicated (first wins)."""
    parses = parses or {}
    rows = session.execute(
        select(InboundMessage.phone, InboundMessage.body, InboundMessage.intent,
               InboundMessage.confidence, InboundMessage.ticket_id)
        .where(InboundMessage.received_at >= since, InboundMessage.body != "")
        .where(or_(InboundMessage.intent.in_(FALLBACK_INTENTS), InboundMessage.ticket_id.isnot(None),
                   InboundMessage.confidence < LOW_CONFIDENCE, InboundMessage.intent.is_(None)))
        .order_by(InboundMessage.received_at, InboundMessage.id)
    ).all()
    names = patient_name_pattern(session)
    seen: set[str] = set()
    picked: list[ReviewText] = []
    for phone, body, intent, confidence, ticket_id in rows:
        if intent is None and (phone, normalised(body)) in parses:
            intent, confidence = parses[(phone, normalised(body))]
        reason = _reason(intent, confidence, ticket_id)
        if reason is None:
            continue
        text = mask_personal_details(body, names)
        key = normalised(text)
        if not key or key in seen:
            continue
        seen.add(key)
        picked.append(ReviewText(text, intent, confidence, reason))
    return picked


def _yaml_line(text: str) -> str:
    """One example line of a YAML block scalar: a single line, no Rasa entity markup."""
    return text.replace("](", "] (")


def render_review_yaml(texts: Iterable[ReviewText], since: datetime, now: datetime) -> str:
    """Rasa NLU YAML (version 3.1), one block per predicted intent, `to_label` first."""
    groups: dict[str, list[ReviewText]] = {}
    for item in texts:
        groups.setdefault(item.intent or TO_LABEL, []).append(item)
    order = sorted(groups, key=lambda name: (name != TO_LABEL, name))
    lines = [HEADER.format(low=LOW_CONFIDENCE, since=since.astimezone(timezone.utc),
                           now=now.astimezone(timezone.utc)), 'version: "3.1"', "nlu:"]
    if not groups:
        lines[-1] = "nlu: []"
    for name in order:
        items = sorted(groups[name], key=lambda i: (i.confidence is None, i.confidence or 0.0))
        reasons = {}
        for item in items:
            reasons[item.reason] = reasons.get(item.reason, 0) + 1
        summary = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        lines.append(f"# predicted {name}: {summary}")
        lines.append(f"- intent: {name}")
        lines.append("  examples: |")
        lines.extend(f"    - {_yaml_line(item.text)}" for item in items)
    return "\n".join(lines) + "\n"


def export_review(engine: Engine, out: Path, since: datetime, now: datetime,
                  tracker_db: Path | None = None) -> list[ReviewText]:
    """Write the review file; returns what was written."""
    parses = tracker_parses(tracker_db, since) if tracker_db else {}
    with Session(engine) as session:
        texts = texts_for_review(session, since, parses)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_review_yaml(texts, since, now), encoding="utf-8")
    return texts


def _review_command(args: argparse.Namespace) -> int:
    from bot.db import get_engine

    now = datetime.now(timezone.utc)
    since = now - timedelta(days=args.since)
    out = Path(args.out)
    tracker_db = get_settings().tracker_db if args.tracker_db is None else args.tracker_db
    texts = export_review(get_engine(), out, since, now, Path(tracker_db) if tracker_db else None)
    unlabelled = sum(1 for t in texts if t.intent is None)
    print(f"{len(texts)} texts to review ({unlabelled} without a prediction) written to {out}")
    return 0


def register_cli(subparsers) -> None:
    """Adds `review-nlu` to `python -m bot`."""
    review = subparsers.add_parser("review-nlu", help="export texts the assistant fumbled, masked, for labelling")
    review.add_argument("--since", type=float, default=30, metavar="DAYS", help="look back DAYS days (default 30)")
    review.add_argument("--out", default=str(DEFAULT_OUT), help=f"output file (default {DEFAULT_OUT.relative_to(ROOT)})")
    review.add_argument("--tracker-db", default=None,
                        help="Rasa's SQLite tracker store, for predictions the inbound rows lack "
                             "(default TRACKER_DB; '' to skip)")
    review.set_defaults(func=_review_command)
