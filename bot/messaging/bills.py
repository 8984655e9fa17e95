"""Bill-ready texts: statements imported from the practice-management system, and the texts that announce them.

The practice file's ``billing`` section::

    portal_url: "https://pay.example.com/statements/{statement_id}"   # the link in the text
    follow_up_days: 7                                                  # one follow-up, unless marked paid
    quiet_hours: ["08:00", "21:00"]                                    # bills' own window (default 8 AM-9 PM)

Import (:func:`import_statements`): rows with ``statement_id`` (required, unique), ``statement_date``
(YYYY-MM-DD), either ``patient_id`` (:attr:`Patient.external_id`) or ``phone`` + ``date_of_birth``, and
optional ``paid`` (true/false). A row matching no patient, or several, is a bad row with its line and
reason; with any bad row nothing is written. Re-importing a statement changes nothing (``paid`` marks it
paid, which stops its follow-up).

Texts (:func:`due_bill_texts`, :func:`send_due_bill_texts`, called by the reminder worker's pass): a
``ready`` text, then one ``follow_up`` after ``follow_up_days`` unless paid; each is one :class:`BillText`
row (unique per statement and step), sent or skipped with the reason. No billing consent, an opt-out or a
wrong number skips the step for good; quiet hours, the daily and weekly caps, and a reminder or recall planned
for the phone later the same day (it comes first under the daily cap) only defer it to a later pass.
The text names the practice and links the portal; never an amount, a service or a diagnosis. A reply the
assistant cannot place within ``reply_days`` of a bill text goes to the billing queue
(:func:`replying_to_a_bill`; the NLU's own billing intent hands off there anyway).
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable, Mapping
from urllib.parse import quote

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from bot import wording
from bot.db import phone_lock_key, transaction
from bot.messaging import consent, reminders, wrong_number
from bot.messaging.outbox import OutboundKind, enqueue_text
from bot.messaging.quiet_hours import sending_window
from bot.models import (
    BillStatement,
    BillText,
    ConsentPurpose,
    OutboundMessage,
    OutboundStatus,
    Patient,
    Practice,
    Reminder,
    ReminderStatus,
)
from bot.patients import language_for_phone, normalize_phone
from bot.practice import get_practice
from bot.privacy import mask_phone

logger = logging.getLogger(__name__)

READY, FOLLOW_UP = "ready", "follow_up"
SENT, SKIPPED = "sent", "skipped"
NO_BILLING_CONSENT = "no billing consent"
COLUMNS = ("statement_id", "statement_date", "patient_id", "phone", "date_of_birth", "paid")
_TRUE, _FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n", ""}


class BillingNotConfigured(ValueError):
    """The practice file has no ``billing.portal_url``: no bill text can be written."""


@dataclass(frozen=True)
class BillingRules:
    portal_url: str
    follow_up_days: int
    reminder_rules: reminders.ReminderRules  # the caps, with the bills' own quiet hours

    def link(self, statement_id: str) -> str:
        return self.portal_url.format(statement_id=quote(statement_id, safe=""))


def billing_rules(practice: Practice) -> BillingRules:
    config = (practice.config or {}).get("billing") or {}
    if not config.get("portal_url"):
        raise BillingNotConfigured("the practice file has no billing.portal_url")
    base = reminders.rules_for(practice)
    window = sending_window(config.get("quiet_hours") or ["08:00", "21:00"], base.zone)
    return BillingRules(
        portal_url=str(config["portal_url"]), follow_up_days=int(config.get("follow_up_days", 7)),
        reminder_rules=dataclasses.replace(base, window_start=window.opens, window_end=window.closes))


# --- Import ----------------------------------------------------------------------------

@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class ImportedRow:
    line: int
    statement_id: str
    patient_id: int
    phone: str
    action: str      # new, new (paid), marked paid, unchanged
    texting: str     # what the worker will do: "bill text", "no text (paid)", "skipped: no billing consent", ...

    def __str__(self) -> str:
        return (f"line {self.line}: statement {self.statement_id} -> patient {self.patient_id} "
                f"({mask_phone(self.phone)}): {self.action}; {self.texting}")


@dataclass
class ImportResult:
    rows: list[ImportedRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.bad

    def as_dict(self) -> dict:
        return {"imported": self.written, "rows": [dataclasses.asdict(r) | {"phone": mask_phone(r.phone)}
                                                   for r in self.rows],
                "bad_rows": [dataclasses.asdict(b) for b in self.bad]}


def _date(text: str, column: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a date (YYYY-MM-DD)") from None


def _paid(text: str) -> bool:
    word = text.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"paid {text!r} must be true or false")


def _patient_for(session: Session, record: Mapping[str, str]) -> Patient:
    """The one patient a row names; ValueError with the reason when it names none or several (never a guess)."""
    if record.get("patient_id"):
        patient = session.execute(
            select(Patient).where(Patient.external_id == record["patient_id"])).scalar_one_or_none()
        if patient is None:
            raise ValueError(f"no patient with patient_id {record['patient_id']!r}")
        return patient
    if not (record.get("phone") and record.get("date_of_birth")):
        raise ValueError("needs patient_id, or phone and date_of_birth")
    phone = normalize_phone(record["phone"])
    if phone is None:
        raise ValueError("phone is not a phone number")
    born = _date(record["date_of_birth"], "date_of_birth")
    matches = list(session.execute(
        select(Patient).where(Patient.phone == phone, Patient.date_of_birth == born)).scalars())
    if not matches:
        raise ValueError("no patient with this phone and date of birth")
    if len(matches) > 1:
        raise ValueError(f"{len(matches)} patients have this phone and date of birth")
    return matches[0]


def _texting_preview(session: Session, phone: str, paid: bool) -> str:
    if paid:
        return "no text (paid)"
    if not consent.allows(session, phone, ConsentPurpose.BILLING):
        return f"skipped: {NO_BILLING_CONSENT}"
    return "bill text"


def import_statements(session: Session, records: Iterable[tuple[int, Mapping[str, str]]], now: datetime,
                      *, dry_run: bool = False) -> ImportResult:
    """Check every row, then (all good, not ``dry_run``) store them; with any bad row nothing is written.

    ``records``: (line number, {column: text}) pairs, as :func:`csv_records` and :func:`json_records` give.
    Raises :class:`BillingNotConfigured` when the practice file has no ``billing.portal_url`` (nothing could be
    texted).
    """
    billing_rules(get_practice(session))
    result = ImportResult()
    planned: list[tuple[ImportedRow, Patient, date, bool, BillStatement | None]] = []
    seen: dict[str, int] = {}
    for line, raw in records:
        record = {str(k).strip().lower(): str(v if v is not None else "").strip() for k, v in raw.items()}
        statement_id = record.get("statement_id", "")
        try:
            if not statement_id:
                raise ValueError("statement_id is missing")
            if len(statement_id) > 64:
                raise ValueError("statement_id is longer than 64 characters")
            if statement_id in seen:
                raise ValueError(f"statement_id {statement_id!r} is also on line {seen[statement_id]}")
            seen[statement_id] = line
            statement_date = _date(record.get("statement_date", ""), "statement_date")
            paid = _paid(record.get("paid", ""))
            patient = _patient_for(session, record)
            existing = session.execute(
                select(BillStatement).where(BillStatement.statement_id == statement_id)).scalar_one_or_none()
            if existing is not None and existing.patient_id != patient.id:
                raise ValueError(f"statement_id {statement_id!r} was imported for another patient")
        except ValueError as error:
            result.bad.append(BadRow(line, str(error)))
            continue
        if existing is None:
            action = "new (paid)" if paid else "new"
        else:
            action = "marked paid" if paid and existing.paid_at is None else "unchanged"
        texting = ("no text (paid)" if paid or (existing is not None and existing.paid_at is not None)
                   else "already imported" if existing is not None
                   else _texting_preview(session, patient.phone, paid))
        planned.append((ImportedRow(line, statement_id, patient.id, patient.phone, action, texting),
                        patient, statement_date, paid, existing))
    result.rows = [row for row, *_ in planned]
    if result.bad or dry_run:
        return result
    for row, patient, statement_date, paid, existing in planned:
        if existing is None:
            session.add(BillStatement(statement_id=row.statement_id, patient_id=patient.id, phone=patient.phone,
                                      statement_date=statement_date, imported_at=now, paid_at=now if paid else None))
        elif paid and existing.paid_at is None:
            existing.paid_at = now
    session.flush()
    result.written = True
    return result


def csv_records(text: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV with a header line, each with its line number in the file (the header is line 1)."""
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    return [(reader.line_num, {k: v for k, v in row.items() if k is not None}) for row in reader]


def json_records(rows: list) -> list[tuple[int, dict[str, str]]]:
    """JSON rows (a list of objects), numbered from 1."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError("expected a JSON list of objects")
    return list(enumerate(rows, start=1))


# --- Texts -------------------------------------------------------------------------------

@dataclass(frozen=True)
class DueBillText:
    statement_id: int  # BillStatement.id
    step: str
    phone: str


def due_bill_texts(session: Session, practice: Practice, now: datetime) -> list[DueBillText]:
    """The steps due now: unpaid statements without a ready text; their follow-up ``follow_up_days`` after it."""
    try:
        rules = billing_rules(practice)
    except BillingNotConfigured:
        return []
    def without(step: str):
        other = aliased(BillText)
        return ~select(other.id).where(other.statement_id == BillStatement.id, other.step == step).exists()

    unpaid = BillStatement.paid_at.is_(None)
    ready = session.execute(
        select(BillStatement.id, BillStatement.phone).where(unpaid, without(READY)).order_by(BillStatement.id)).all()
    follow_ups = session.execute(
        select(BillStatement.id, BillStatement.phone)
        .join(BillText, and_(BillText.statement_id == BillStatement.id, BillText.step == READY))
        .where(unpaid, BillText.status == SENT, BillText.created_at <= now - timedelta(days=rules.follow_up_days),
               without(FOLLOW_UP))
        .order_by(BillStatement.id)).all()
    return ([DueBillText(i, READY, phone) for i, phone in ready]
            + [DueBillText(i, FOLLOW_UP, phone) for i, phone in follow_ups])


def send_bill_text(session: Session, due: DueBillText, now: datetime, rules: BillingRules,
                   practice: Practice) -> BillText | None:
    """Send or skip one step, or None when it must wait (quiet hours, caps) or is done already.

    The caller holds the phone's lock (PostgreSQL) or SQLite's write lock, so the checks and the caps hold.
    """
    statement = session.get(BillStatement, due.statement_id, populate_existing=True)
    done = session.execute(select(BillText.id).where(
        BillText.statement_id == statement.id, BillText.step == due.step)).first()
    if done is not None or statement.paid_at is not None:
        return None
    phone = statement.phone
    reason = None
    if not consent.allows(session, phone, ConsentPurpose.BILLING):
        reason = "opted out" if consent.is_opted_out(session, phone) else NO_BILLING_CONSENT
    elif wrong_number.automated_texts_stopped(session, phone, statement.patient_id):
        reason = wrong_number.WRONG_NUMBER
    else:
        wait = reminders.why_not_now(session, phone, now, rules.reminder_rules, ConsentPurpose.BILLING)
        if wait is not None or _reminder_later_today(session, phone, now, rules):
            return None  # quiet hours, a cap, or a visit's reminder first: a later pass sends it
    row = BillText(statement_id=statement.id, step=due.step, status=SKIPPED if reason else SENT, reason=reason,
                   created_at=now)
    session.add(row)
    session.flush()  # the unique (statement, step): a second writer fails here, before any text
    if reason is None:
        body = wording.render("bill_ready" if due.step == READY else "bill_follow_up",
                              language_for_phone(session, phone), practice_name=practice.name,
                              link=rules.link(statement.statement_id))
        row.outbound_id = enqueue_text(session, phone, body, OutboundKind.BILL, now).id
    else:
        logger.info("bill text %s to %s skipped: %s", due.step, mask_phone(phone), reason)
    return row


def _reminder_later_today(session: Session, phone: str, now: datetime, rules: BillingRules) -> bool:
    """A reminder or recall is planned for ``phone`` before local midnight: under the daily cap it comes first."""
    midnight = rules.reminder_rules.local_midnight(now) + timedelta(days=1)
    return session.execute(select(Reminder.id).where(
        Reminder.phone == phone, Reminder.status == ReminderStatus.PLANNED, Reminder.send_at < midnight)
    ).first() is not None


def replying_to_a_bill(session: Session, practice: Practice, phone: str | None, now: datetime) -> bool:
    """Was a bill text sent to ``phone`` within ``billing.reply_days`` (default 7)? Then a text the assistant
    cannot place ("why so much", "I already paid") is for the billing team."""
    if phone is None:
        return False
    days = int(((practice.config or {}).get("billing") or {}).get("reply_days", 7))
    return session.execute(select(OutboundMessage.id).where(
        OutboundMessage.phone == phone, OutboundMessage.kind == OutboundKind.BILL.value,
        OutboundMessage.status != OutboundStatus.BLOCKED, OutboundMessage.created_at >= now - timedelta(days=days),
        OutboundMessage.created_at <= now).limit(1)).first() is not None


@dataclass
class BillPass:
    sent: int = 0
    skipped: int = 0
    waiting: int = 0

    def __str__(self) -> str:
        return f"bills: {self.sent} texts, {self.skipped} skipped, {self.waiting} waiting"


def send_due_bill_texts(engine: Engine, now: datetime) -> BillPass:
    """Every due bill step, one transaction each, under the phone's lock; safe with any number of workers."""
    with transaction(engine) as session:
        practice = get_practice(session)
        due = due_bill_texts(session, practice, now)
    outcome = BillPass()
    if not due:
        return outcome
    rules = billing_rules(practice)
    for item in due:
        try:
            with transaction(engine) as session:
                if engine.dialect.name == "postgresql":
                    session.execute(select(func.pg_advisory_xact_lock(phone_lock_key(item.phone))))
                row = send_bill_text(session, item, now, rules, practice)
        except IntegrityError:
            row = None  # another worker wrote this step between our check and our insert
        if row is None:
            outcome.waiting += 1
        elif row.status == SENT:
            outcome.sent += 1
        else:
            outcome.skipped += 1
    return outcome
