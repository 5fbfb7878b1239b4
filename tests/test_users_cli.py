"""The ``users`` commands through real processes, on SQLite and PostgreSQL.

Passwords come on standard input (the first line), as a script would give them; the
terminal prompt is tested in-process with ``getpass`` replaced.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator import cli_users
from aggregator.config import DATABASE_ENV
from aggregator.errors import LoginFailed, UsageError
from aggregator.service import Service


@pytest.fixture
def run(project: Path, db_url: str) -> Iterator[object]:
    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aggregator", "--config",
                               str(project / "config.toml"), *args], cwd=project,
                              input=stdin, capture_output=True, text=True, timeout=120,
                              env={**os.environ, DATABASE_ENV: db_url})
    yield cli


@pytest.fixture
def open_service(project: Path, db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(DATABASE_ENV, db_url)
    return lambda: Service.open(project / "config.toml")


def test_add_list_passwd_remove(run, open_service) -> None:
    added = run("users", "add", "ana", "--role", "admin", stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "added ana (admin)\n"
    # the first line only; a Windows line end is not part of the password
    bea = run("users", "add", "bea.b", stdin="staple of the editors\r\nsecond line\n")
    assert bea.returncode == 0 and bea.stdout == "added bea.b (editor)\n"

    table = run("users", "list").stdout.splitlines()
    assert table[0].split() == ["NAME", "ROLE", "LAST", "LOGIN", "STATE"]
    assert [line.split()[:2] for line in table[1:]] == [["ana", "admin"], ["bea.b", "editor"]]
    assert all(line.split()[2:] == ["never", "ok"] for line in table[1:])
    listed = json.loads(run("users", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["last_login_at"], u["locked_until"]) for u in listed] == [
        ("ana", "admin", None, None), ("bea.b", "editor", None, None)]
    assert "password" not in json.dumps(listed)

    with open_service() as service:
        assert service.authenticate("bea.b", "staple of the editors").role == "editor"
        with pytest.raises(LoginFailed):
            service.authenticate("bea.b", "staple of the editors\r")
    changed = run("users", "passwd", "ana", stdin="a new horse battery\n")
    assert changed.returncode == 0 and changed.stdout == "new password set for ana\n"
    removed = run("users", "remove", "bea.b")
    assert removed.returncode == 0 and removed.stdout == "removed bea.b\n"
    assert [u["name"] for u in json.loads(run("users", "list", "--json").stdout)] == ["ana"]

    with open_service() as service:
        with pytest.raises(LoginFailed):
            service.authenticate("ana", "correct horse battery")
        assert service.authenticate("ana", "a new horse battery").last_login_at is not None
        log = [(e.user, e.action, e.target) for e in reversed(service.list_audit())]
    assert log == [(None, "user.add", "ana"), (None, "user.add", "bea.b"),
                   (None, "user.passwd", "ana"), (None, "user.remove", "bea.b")]


def test_a_locked_account_shows_in_the_list_and_passwd_lifts_it(run, open_service) -> None:
    assert run("users", "add", "ana", stdin="correct horse battery\n").returncode == 0
    with open_service() as service:
        for _ in range(5):
            with pytest.raises(LoginFailed):
                service.authenticate("ana", "not the password")
    assert "locked until" in run("users", "list").stdout
    assert json.loads(run("users", "list", "--json").stdout)[0]["locked_until"]
    assert run("users", "passwd", "ana", stdin="a new horse battery\n").returncode == 0
    assert run("users", "list").stdout.splitlines()[1].split()[-1] == "ok"


@pytest.mark.parametrize(("args", "stdin", "code", "message"), [
    (["add", "ana"], "short\n", 2, "the password is too short: use at least 10 characters"),
    (["add", "ana"], "", 2, "no password on standard input"),
    (["add", "ana"], "\n", 2, "no password on standard input"),
    (["add", "ana maria"], "correct horse battery\n", 2, "cannot be a user name"),
    (["add", "ana", "--role", "owner"], "", 2, "invalid choice: 'owner'"),
    (["add", "root"], "correct horse battery\n", 2, "a user named 'root' already exists"),
    (["passwd", "nobody"], "correct horse battery\n", 4, "no user named 'nobody'"),
    (["passwd", "root"], "short\n", 2, "too short"),
    (["remove", "nobody"], "", 4, "no user named 'nobody'"),
])
def test_errors_are_one_clear_line(run, args: list[str], stdin: str, code: int,
                                   message: str) -> None:
    assert run("users", "add", "root", "--role", "admin",
               stdin="the admin password\n").returncode == 0
    r = run("users", *args, stdin=stdin)
    assert r.returncode == code, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    if code != 2 or "invalid choice" not in message:  # argparse prints its usage first
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("aggregator: ")
    assert r.stdout == ""
    assert [u["name"] for u in json.loads(run("users", "list", "--json").stdout)] == ["root"]


# -- the terminal prompt -----------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_password_is_asked_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["correct horse battery", "correct horse battery"])
    prompts: list[str] = []
    monkeypatch.setattr(cli_users.getpass, "getpass",
                        lambda prompt: (prompts.append(prompt), next(answers))[1])
    assert cli_users.read_password("ana", Terminal()) == "correct horse battery"
    assert prompts == ["New password for ana: ", "The same again: "]


def test_on_a_terminal_two_different_answers_change_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["correct horse battery", "correct horse batterx"])
    monkeypatch.setattr(cli_users.getpass, "getpass", lambda prompt: next(answers))
    with pytest.raises(UsageError, match="the two passwords differ"):
        cli_users.read_password("ana", Terminal())


def test_on_a_terminal_a_short_password_is_refused_before_the_second_prompt(
        monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []
    monkeypatch.setattr(cli_users.getpass, "getpass",
                        lambda prompt: (prompts.append(prompt), "short")[1])
    with pytest.raises(UsageError, match="too short"):
        cli_users.read_password("ana", Terminal())
    assert len(prompts) == 1
