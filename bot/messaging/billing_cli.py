"""``python -m bot bills import FILE [--dry-run]`` and ``python -m bot consent record PHONE ...``.

``bills import`` checks every row first: with any bad row (no patient, several, a bad date...) it prints
each with its line number, imports nothing and exits 1. ``--dry-run`` prints what would be imported and
texted, and every bad row, and changes nothing.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from bot.db import transaction
from bot.messaging import bills, consent
from bot.models import ConsentPurpose, ConsentSource, ConsentStatus
from bot.patients import normalize_phone
from bot.privacy import mask_phone
from bot.scheduling.outcomes import _engine, _now


def print_import(result: bills.ImportResult, *, dry_run: bool) -> None:
    for row in result.rows:
        print(row)
    for bad in result.bad:
        print(f"bad row: {bad}")
    if result.bad:
        print(f"{len(result.bad)} bad rows: nothing imported (fix them and import the whole file again)")
    elif dry_run:
        print(f"dry run: {len(result.rows)} statements would be imported; nothing was changed")
    else:
        print(f"{len(result.rows)} statements imported")


def _import(args: argparse.Namespace) -> int:
    records = bills.csv_records(Path(args.file).read_text(encoding="utf-8"))
    try:
        with transaction(_engine(), dry_run=args.dry_run) as session:
            result = bills.import_statements(session, records, _now(args.now), dry_run=args.dry_run)
    except bills.BillingNotConfigured as exc:
        print(f"error: {exc}; nothing imported")
        return 1
    print_import(result, dry_run=args.dry_run)
    return 0 if result.ok else 1


def _record(args: argparse.Namespace) -> int:
    phone = normalize_phone(args.phone)
    if phone is None:
        print(f"error: {args.phone!r} is not a phone number")
        return 1
    status = ConsentStatus.OPTED_OUT if args.opt_out else ConsentStatus.OPTED_IN
    with transaction(_engine()) as session:
        try:
            consent.record_consent(session, phone, args.purpose, status, args.source, _now(args.now),
                                   detail=args.detail)
        except consent.ConsentRefused as exc:
            print(f"error: {exc}")
            return 1
    print(f"{mask_phone(phone)}: {args.purpose} {status.value} ({args.source})")
    return 0


def register_cli(subparsers) -> None:
    bills_parser = subparsers.add_parser("bills", help="bill-ready texts: import statements")
    commands = bills_parser.add_subparsers(dest="bills_command", required=True)
    imp = commands.add_parser("import", help="import statements from a CSV (columns: see the README)")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="show what would be imported and texted; change nothing")
    imp.add_argument("--now", help="pretend it is this time (ISO 8601 with offset)")
    imp.set_defaults(func=_import)

    consent_parser = subparsers.add_parser("consent", help="patients' consent to texts, by purpose")
    consent_commands = consent_parser.add_subparsers(dest="consent_command", required=True)
    record = consent_commands.add_parser("record", help="record an opt-in (or --opt-out) for a phone")
    record.add_argument("phone")
    record.add_argument("--purpose", required=True,
                        choices=[p.value for p in ConsentPurpose if p != ConsentPurpose.ALL])
    record.add_argument("--source", required=True,
                        choices=[s.value for s in (ConsentSource.INTAKE_FORM, ConsentSource.VERBAL,
                                                   ConsentSource.TEXT_REPLY, ConsentSource.WEB_CHAT)])
    record.add_argument("--opt-out", action="store_true", help="record an opt-out instead of an opt-in")
    record.add_argument("--detail", help="a short note (who took it, the form's date)")
    record.add_argument("--now", help=argparse.SUPPRESS)
    record.set_defaults(func=_record)
