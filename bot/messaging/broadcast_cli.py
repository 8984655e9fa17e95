"""``python -m bot broadcast --day YYYY-MM-DD [--provider KEY] (--text ".." | --template NAME) [--dry-run]``.

The dry run prints the preview (each text, its segments, who is skipped and why) and changes nothing; without
it the broadcast is stored and the outbox sender sends it (``--as`` names the admin or front-desk user).
"""
from __future__ import annotations

import argparse
from datetime import date

from sqlalchemy import select

from bot.db import transaction
from bot.messaging import broadcasts
from bot.models import Provider, StaffUser
from bot.privacy import mask_phone
from bot.scheduling.outcomes import _engine, _now
from bot.settings import get_settings


def print_preview(preview: broadcasts.Preview) -> None:
    for recipient in preview.recipients:
        print(f"{mask_phone(recipient.phone)} {', '.join(recipient.names)}: {recipient.segments} "
              f"{recipient.encoding} segment(s): {recipient.body}")
    for skipped in preview.skipped:
        print(f"skipped {mask_phone(skipped.phone) if skipped.phone else '(no phone)'} "
              f"{', '.join(skipped.names)}: {skipped.reason}")
    print(f"{preview.count} texts ({preview.total_segments} segments), {len(preview.skipped)} skipped")


def _broadcast(args: argparse.Namespace) -> int:
    with transaction(_engine(), dry_run=args.dry_run) as session:
        provider_id = None
        if args.provider:
            provider_id = session.execute(select(Provider.id).where(Provider.key == args.provider)).scalar()
            if provider_id is None:
                print(f"error: no provider {args.provider!r}")
                return 1
        options = dict(day=date.fromisoformat(args.day), text=args.text, template=args.template,
                       provider_id=provider_id, cancel_appointments=args.cancel_appointments)
        try:
            preview = broadcasts.preview(session, **options)
        except broadcasts.EmptyText as exc:
            print(f"error: {exc}")
            return 1
        print_preview(preview)
        if preview.findings:
            print("check: the text mentions " + ", ".join(f"{f.text} ({f.kind})" for f in preview.findings)
                  + "; --confirm sends it anyway")
        if args.dry_run:
            print("dry run: nothing was sent or changed")
            return 0
        user = session.execute(select(StaffUser).where(StaffUser.username == (args.as_user or ""))).scalar()
        if user is None or not broadcasts.may_broadcast(user.role.value):
            print("error: --as must name an active admin or front-desk user")
            return 1
        try:
            broadcast = broadcasts.start(session, staff_user_id=user.id, role=user.role.value, now=_now(args.now),
                                         send_rate=get_settings().sms_send_rate, confirmed=args.confirm, **options)
        except broadcasts.NeedsConfirmation:
            print("error: not sent (see the check above)")
            return 1
    print(f"broadcast {broadcast.id} queued: the outbox sender sends it")
    return 0


def register_cli(subparsers) -> None:
    parser = subparsers.add_parser("broadcast", help="text the patients with appointments on a day")
    parser.add_argument("--day", required=True, help="YYYY-MM-DD (the practice's local day)")
    parser.add_argument("--provider", help="only this provider's patients (the practice file's key)")
    words = parser.add_mutually_exclusive_group(required=True)
    words.add_argument("--text", help="the text; {first_name}, {practice_name}, {practice_phone} are filled")
    words.add_argument("--template", choices=broadcasts.TEMPLATES, help="a canned text, in each patient's language")
    parser.add_argument("--cancel-appointments", action="store_true",
                        help="also cancel each recipient's appointments that day (they are invited to rebook)")
    parser.add_argument("--dry-run", action="store_true", help="print the preview; send and change nothing")
    parser.add_argument("--confirm", action="store_true", help="send a text the send guard flagged as it is")
    parser.add_argument("--as", dest="as_user", help="the staff username sending it (admin or front desk)")
    parser.add_argument("--now", help=argparse.SUPPRESS)
    parser.set_defaults(func=_broadcast)
