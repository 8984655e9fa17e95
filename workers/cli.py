"""`python -m bot ...`: the operator's commands.

Each area registers its own sub-commands (``register_cli(subparsers)``) so this
file stays a table of contents. Every command sets ``func``, which returns an
exit code.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from bot.privacy import install_log_masking
from bot.settings import VAR, get_settings


def _db_setup(args: argparse.Namespace) -> int:
    from tools.demo import setup_database

    settings = get_settings()
    print(setup_database(settings.database_url, settings.practice_file, datetime.now(timezone.utc),
                         load_demo_data=not args.no_demo))
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from bot.migrate import upgrade_database

    upgrade_database(get_settings().database_url)
    print("database schema is up to date")
    return 0


def _db_backup(args: argparse.Namespace) -> int:
    """Copy the practice's database and Rasa's conversations (SQLite files) into a dated folder."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from bot.db import backup_sqlite

    settings = get_settings()
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        print("DATABASE_URL is PostgreSQL: back it up with pg_dump (and the Rasa tracker database with it), "
              "e.g. pg_dump -Fc -f practice.dump DBNAME", file=sys.stderr)
        return 2
    folder = Path(args.to) / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    sources = [("practice", Path(url.database))]
    if settings.tracker_dialect == "sqlite" and Path(settings.tracker_db).is_file():
        sources.append(("rasa_tracker", Path(settings.tracker_db)))
    for name, source in sources:
        if not source.is_file():
            print(f"no database at {source}", file=sys.stderr)
            return 1
        print(f"{source} -> {backup_sqlite(source, folder / f'{name}.db')}")
    return 0


def _practice_load(args: argparse.Namespace) -> int:
    """Update the practice in place from its file; --dry-run lists the changes, then rolls them back."""
    from bot.db import transaction
    from bot.practice import PracticeFileError, load_practice_file, update_practice

    try:
        data = load_practice_file(args.file)
        with transaction(dry_run=args.dry_run) as session:
            changes = update_practice(session, data)
    except PracticeFileError as refusal:
        print(f"practice not loaded: {refusal}", file=sys.stderr)
        return 2
    for change in changes:
        print(change)
    if args.dry_run:
        print(f"{len(changes) or 'no'} changes to {data['name']} (dry run: nothing was changed)")
    else:
        print(f"loaded {data['name']}: {len(data['providers'])} providers, "
              f"{len(data['appointment_types'])} appointment types ({len(changes) or 'no'} changes)")
    return 0


def _demo_contacts(args: argparse.Namespace) -> int:
    from bot.db import transaction
    from tools.demo import demo_contacts

    with transaction() as session:
        json.dump(demo_contacts(session), sys.stdout, indent=1)
    print()
    return 0


def _outbox_run(args: argparse.Namespace) -> int:
    from channels.registry import run_outbox_senders

    run_outbox_senders(once=args.once)
    return 0


def _report(args: argparse.Namespace) -> int:
    """The appointment figures, then per queue and week: first response p50/p90, waits over 1 business hour
    and 1 business day, beside the goals; ``--csv``: the staff figures alone, as CSV."""
    import csv

    from bot.db import engine_for, session_factory
    from bot.staff.responsetimes import FIGURE_COLUMNS, figures_table, queue_figures

    now = datetime.fromisoformat(args.now) if args.now else datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise SystemExit("--now needs a UTC offset, e.g. 2027-03-01T09:00-08:00")
    with session_factory(engine_for(get_settings().database_url))() as session:
        table = figures_table(queue_figures(session, now, weeks=args.weeks))
    if args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(FIGURE_COLUMNS)
        writer.writerows(table)
        return 0
    args.appointments_report(args)
    print()
    print("Staff response times (first response; waiting counted until the first answer, or now):")
    if not table:
        print(f"No tickets in the last {args.weeks} weeks.")
        return 0
    widths = [max(len(column), *(len(row[i]) for row in table)) for i, column in enumerate(FIGURE_COLUMNS)]
    for row in (FIGURE_COLUMNS, *table):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print("Goals: at most 5% waiting more than 1 business hour, none more than 1 business day "
          "(the urgent queue: wall-clock).")
    return 0


def _run_services(args: argparse.Namespace) -> int:
    from workers.supervisor import run_services

    return run_services(get_settings())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The practice's SMS assistant.")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="the database").add_subparsers(dest="db_command", required=True)
    setup = db.add_parser("setup", help="migrate; load the practice and demo data into an empty database")
    setup.add_argument("--no-demo", action="store_true", help="load the practice but no demo patients")
    setup.set_defaults(func=_db_setup)
    db.add_parser("upgrade", help="migrate the schema only").set_defaults(func=_db_upgrade)
    backup = db.add_parser("backup", help="copy the SQLite databases (practice and conversations) while running")
    backup.add_argument("--to", default=str(VAR / "backups"), help="folder for dated backups (default var/backups)")
    backup.set_defaults(func=_db_backup)

    practice = commands.add_parser("practice", help="the practice's configuration").add_subparsers(
        dest="practice_command", required=True)
    load = practice.add_parser("load", help="load or update the practice in place from a YAML file")
    load.add_argument("file")
    load.add_argument("--dry-run", action="store_true", help="print what would change and change nothing")
    load.set_defaults(func=_practice_load)

    demo = commands.add_parser("demo", help="the demo practice").add_subparsers(dest="demo_command", required=True)
    demo.add_parser("contacts", help="demo patients' phones as JSON").set_defaults(func=_demo_contacts)

    outbox = commands.add_parser("outbox", help="the outbound texts").add_subparsers(
        dest="outbox_command", required=True)
    send = outbox.add_parser("run", help="send due texts through Twilio (a loop)")
    send.add_argument("--once", action="store_true", help="send what is due, then exit")
    send.set_defaults(func=_outbox_run)

    commands.add_parser("run", help="start every service (what `make run` does)").set_defaults(func=_run_services)

    from bot.messaging.billing_cli import register_cli as register_billing
    from bot.messaging.broadcast_cli import register_cli as register_broadcast
    from bot.scheduling.outcomes import register_cli as register_outcomes
    from tools.review_nlu import register_cli as register_review_nlu
    from web.cli import register_cli as register_staff
    from workers.reminder_worker import register_cli as register_reminders

    register_staff(commands)
    register_reminders(commands)
    register_outcomes(commands)
    # `report` (appointment outcomes, bot.scheduling.outcomes) also prints the staff's response figures.
    report = commands.choices["report"]
    report.add_argument("--csv", action="store_true", help="only the staff response figures, as CSV")
    report.set_defaults(func=_report, appointments_report=report.get_default("func"))
    register_review_nlu(commands)
    register_billing(commands)
    register_broadcast(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    install_log_masking(get_settings().log_level)
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
