"""The ``users`` commands: the editors' accounts (:mod:`aggregator.accounts`).

Passwords never appear on the command line (other users can read it in ``ps``): they
are asked twice on a terminal, or read as the first line of standard input when it is
not one (``echo "$PW" | aggregator users add ana --role admin``). Each change is
written to the audit log, as done from the command line by the system user.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, TextIO

from aggregator import accounts
from aggregator.errors import UsageError
from aggregator.models import USER_ROLES, User
from aggregator.service import Service


def add_parsers(sub: Any, user: str | None) -> None:
    us = sub.add_parser("users", help="the editors' accounts: add, passwd, remove, list")
    usub = us.add_subparsers(dest="action", metavar="ACTION", required=True)
    ua = usub.add_parser("add", help="add an account (the password: asked, or from stdin)")
    ua.add_argument("name", help="1 to 64 letters, digits, dots, underscores or hyphens")
    ua.add_argument("--role", choices=USER_ROLES, default="editor",
                    help="editor (the editor pages) or admin (also accounts and sources); "
                         "default editor")
    up = usub.add_parser("passwd", help="set a new password (it also lifts a lock)")
    up.add_argument("name")
    ur = usub.add_parser("remove", help="delete an account (its audit log lines stay)")
    ur.add_argument("name")
    ul = usub.add_parser("list", help="every account with its role and last login")
    ul.add_argument("--json", action="store_true")


def user_json(u: User) -> dict[str, Any]:
    return {
        "name": u.name, "role": u.role, "created_at": u.created_at.isoformat(),
        "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
        "failed_logins": u.failed_logins,
        "locked_until": u.locked_until.isoformat() if u.locked_until else None,
    }


def users(service: Service, args: argparse.Namespace, out: TextIO) -> int:
    from aggregator.cli import _dump, _table

    if args.action == "add":
        accounts.check_name(args.name)  # before asking for a password
        if service.store.find_user(args.name) is not None:
            raise UsageError(f"a user named {args.name!r} already exists "
                             "(aggregator users passwd sets a new password)")
        u = service.add_user(args.name, args.role, read_password(args.name))
        service.audit(None, "user.add", u.name, f"role {u.role}; from the command line")
        print(f"added {u.name} ({u.role})", file=out)
    elif args.action == "passwd":
        service.get_user(args.name)
        u = service.set_password(args.name, read_password(args.name))
        service.audit(None, "user.passwd", u.name, "from the command line")
        print(f"new password set for {u.name}", file=out)
    elif args.action == "remove":
        u = service.remove_user(args.name)
        service.audit(None, "user.remove", u.name, f"role {u.role}; from the command line")
        print(f"removed {u.name}", file=out)
    elif args.action == "list":
        found = service.list_users()
        if args.json:
            _dump([user_json(u) for u in found], out)
        else:
            now = service.clock()
            _table(out, ["NAME", "ROLE", "LAST LOGIN", "STATE"],
                   [[u.name, u.role,
                     u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never",
                     f"locked until {u.locked_until.strftime('%Y-%m-%d %H:%M')} UTC"
                     if u.locked_until and u.locked_until > now else "ok"]
                    for u in found])
    return 0


def read_password(name: str, stdin: TextIO | None = None) -> str:
    """The first line of standard input, or asked twice on a terminal; checked."""
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        line = stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise UsageError("no password on standard input (give it as the first line, "
                             "or run the command on a terminal to be asked)")
        return accounts.check_password(password, name)
    password = getpass.getpass(f"New password for {name}: ")
    accounts.check_password(password, name)
    if getpass.getpass("The same again: ") != password:
        raise UsageError("the two passwords differ; nothing was changed")
    return password
