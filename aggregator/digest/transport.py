"""Handing messages over: an outbox folder (``file``) or an SMTP server (``smtp``).

``send(sender, recipient, data, before_data)`` runs the envelope first and calls
``before_data()`` just before the message itself is handed over; the sender marks
the delivery ``sending`` there. Everything before that point is safe to retry; a
failure after it has an unknown fate (:class:`MailFateUnknown`).

A refusal is :class:`MailRefused` (with its code and stage); a server that cannot
be reached is :class:`MailError`, which stops the whole send.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from aggregator.config import Config
from aggregator.errors import MailError, MailFateUnknown, MailRefused


class Transport(Protocol):
    def open(self) -> None: ...

    def close(self) -> None: ...

    def send(self, sender: str, recipient: str, data: bytes, msg_id: str,
             before_data: Callable[[], bool] = lambda: True) -> bool:
        """Hand one message over; False if ``before_data`` said not to."""
        ...

    def delivered(self, msg_id: str) -> bool | None:
        """Whether a message with this id was handed over (None: cannot tell)."""
        ...


def outbox_name(msg_id: str) -> str:
    """A file name for a Message-ID: ``<digest.2026-W48.7@host>`` → ``digest.2026-W48.7@host.eml``."""
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", msg_id.strip("<>")) + ".eml"


class FileTransport:
    """One ``.eml`` per message in the outbox, written whole (temporary name, rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise MailError(f"[email] outbox: cannot create {self.folder}: {e.strerror}") from e

    def close(self) -> None:
        pass

    def send(self, sender: str, recipient: str, data: bytes, msg_id: str,
             before_data: Callable[[], bool] = lambda: True) -> bool:
        if not before_data():
            return False
        target = self.folder / outbox_name(msg_id)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise MailError(f"[email] outbox: cannot write {target}: {e.strerror}") from e
        return True

    def delivered(self, msg_id: str) -> bool | None:
        return (self.folder / outbox_name(msg_id)).exists()


class SmtpTransport:
    """One SMTP connection reused for many messages (reconnected if the server drops it)."""

    def __init__(self, config: Config) -> None:
        self.settings = config.email.smtp
        self.local_hostname = _local_hostname(config)
        self.conn: smtplib.SMTP | None = None

    def _credentials(self) -> tuple[str, str] | None:
        s = self.settings
        if not s.username_env:
            return None
        user = os.environ.get(s.username_env)
        password = os.environ.get(s.password_env or "", "")
        if not user:
            raise MailError(f"[email.smtp] username_env: the environment variable "
                            f"{s.username_env} is not set")
        if s.password_env and s.password_env not in os.environ:
            raise MailError(f"[email.smtp] password_env: the environment variable "
                            f"{s.password_env} is not set")
        return user, password

    def open(self) -> None:
        if self.conn is not None:
            return
        s = self.settings
        where = f"{s.host}:{s.port}"
        try:
            context = ssl.create_default_context()
            conn: smtplib.SMTP
            if s.security == "tls":
                conn = smtplib.SMTP_SSL(s.host, s.port, local_hostname=self.local_hostname,
                                        timeout=s.timeout, context=context)
            else:
                conn = smtplib.SMTP(s.host, s.port, local_hostname=self.local_hostname,
                                    timeout=s.timeout)
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            credentials = self._credentials()
            if credentials:
                conn.login(*credentials)
        except smtplib.SMTPAuthenticationError as e:
            raise MailError(f"SMTP {where}: login refused: {e.smtp_code} "
                            f"{_reply(e.smtp_error)}") from e
        except smtplib.SMTPNotSupportedError as e:
            raise MailError(f"SMTP {where}: {e} (check [email.smtp] security)") from e
        except smtplib.SMTPResponseException as e:
            raise MailError(f"SMTP {where}: {e.smtp_code} {_reply(e.smtp_error)}") from e
        except (OSError, smtplib.SMTPException) as e:
            raise MailError(f"SMTP {where}: cannot connect: {e}") from e
        self.conn = conn

    def close(self) -> None:
        if self.conn is None:
            return
        try:
            self.conn.quit()
        except (OSError, smtplib.SMTPException):
            self.conn.close()
        self.conn = None

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def send(self, sender: str, recipient: str, data: bytes, msg_id: str,
             before_data: Callable[[], bool] = lambda: True) -> bool:
        try:
            return self._send(sender, recipient, data, before_data)
        except smtplib.SMTPServerDisconnected:
            # the server closed an idle or used-up connection: once more on a new one
            self._drop()
        try:
            return self._send(sender, recipient, data, before_data)
        except smtplib.SMTPServerDisconnected as e:
            self._drop()
            s = self.settings
            raise MailError(f"SMTP {s.host}:{s.port}: the server closed the connection: "
                            f"{e}") from e

    def _send(self, sender: str, recipient: str, data: bytes,
              before_data: Callable[[], bool]) -> bool:
        self.open()
        conn = self.conn
        assert conn is not None
        try:
            code, reply = conn.mail(sender)
            if code != 250:
                self._rset()
                raise MailRefused(code, _reply(reply), "MAIL")
            code, reply = conn.rcpt(recipient)
            if code not in (250, 251):
                self._rset()
                raise MailRefused(code, _reply(reply), "RCPT")
        except (OSError, smtplib.SMTPServerDisconnected) as e:
            if isinstance(e, smtplib.SMTPServerDisconnected):
                raise
            self._drop()
            raise smtplib.SMTPServerDisconnected(str(e)) from e
        if not before_data():
            self._rset()
            return False
        try:
            code, reply = _data(conn, data)
            if code != 250:  # the message was refused after it was sent
                self._rset()
                raise MailRefused(code, _reply(reply), "DATA")
        except smtplib.SMTPDataError as e:
            self._rset()
            raise MailRefused(e.smtp_code, _reply(e.smtp_error), "DATA") from e
        except (OSError, smtplib.SMTPException) as e:
            self._drop()
            raise MailFateUnknown(f"the connection broke during DATA: {e}") from e
        return True

    def _rset(self) -> None:
        try:
            if self.conn is not None:
                self.conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def delivered(self, msg_id: str) -> bool | None:
        return None


def _data(conn: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """DATA for a message that already has CRLF line ends (ours always do).

    What ``smtplib.SMTP.data`` does, without its two regular expressions over the
    whole message to fix line ends: only the dot-stuffing (RFC 5321 4.5.2) is left.
    """
    conn.putcmd("data")
    code, reply = conn.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    body = data.replace(b"\r\n.", b"\r\n..")
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    conn.send(body + b".\r\n")
    return conn.getreply()


def _reply(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:300]


def _local_hostname(config: Config) -> str:
    """The name we greet with: the sender's domain beats a container's random hostname."""
    from aggregator.digest.render import sender_domain

    domain = sender_domain(config)
    return domain if domain != "localhost" else socket.getfqdn()


def transport_for(config: Config) -> Transport:
    if config.email.transport == "smtp":
        return SmtpTransport(config)
    return FileTransport(config.email.outbox)
