"""`python -m bot staff add|passwd|list`: staff accounts from the command line (the first admin starts here).

The lead's ``workers/cli.py`` calls :func:`register_cli` with its subparsers.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime, timezone

from bot.db import engine_for, transaction
from bot.models import StaffRole
from bot.settings import get_settings
from bot.staff import access
from bot.staff import accounts as staff


def _transaction():
    return transaction(engine_for(get_settings().database_url))


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"Password for {args.username}: ")
    if getpass.getpass("Again: ") != first:
        raise staff.StaffError("the two passwords differ")
    return first


def add_staff_command(args: argparse.Namespace) -> int:
    """Create a staff account; prints why not (and returns 1) when it cannot."""
    try:
        password = staff.new_password(_read_password(args))  # scrypt before the transaction
        with _transaction() as session:
            user = staff.create_staff_user(session, args.username, password, args.role,
                                           args.display_name, datetime.now(timezone.utc))
            print(f"added {user.username} ({access.role_of(user)})")
    except staff.StaffError as exc:
        print(f"not added: {exc}", file=sys.stderr)
        return 1
    return 0


def passwd_staff_command(args: argparse.Namespace) -> int:
    """Set a new password (a forgotten one, or the only admin locked out of the inbox)."""
    from sqlalchemy import select

    from bot.models import StaffUser

    try:
        password = staff.new_password(_read_password(args))  # scrypt before the transaction
        with _transaction() as session:
            user = session.execute(select(StaffUser).where(StaffUser.username == args.username)).scalar_one_or_none()
            if user is None:
                raise staff.StaffError(f"there is no staff account {args.username!r}")
            staff.set_password(session, user, password)
            print(f"new password set for {user.username}")
    except staff.StaffError as exc:
        print(f"not changed: {exc}", file=sys.stderr)
        return 1
    return 0


def list_staff_command(args: argparse.Namespace) -> int:
    with _transaction() as session:
        for user in staff.list_staff_users(session):
            state = "" if user.active else "  (turned off)"
            print(f"{user.username:20} {access.role_of(user):11} {user.display_name}{state}")
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``staff add``, ``staff passwd`` and ``staff list``; each sets ``func`` to a function returning an exit code."""
    staff_parser = subparsers.add_parser("staff", help="staff inbox accounts")
    commands = staff_parser.add_subparsers(dest="staff_command", required=True)
    add = commands.add_parser("add", help="add a staff account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in StaffRole])
    add.add_argument("--display-name", dest="display_name", default=None)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.set_defaults(func=add_staff_command)
    passwd = commands.add_parser("passwd", help="set a new password for a staff account")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    passwd.set_defaults(func=passwd_staff_command)
    show = commands.add_parser("list", help="list staff accounts")
    show.set_defaults(func=list_staff_command)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m web.cli staff add ...``) until workers/cli.py wires it."""
    parser = argparse.ArgumentParser(prog="python -m web.cli")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
