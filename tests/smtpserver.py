"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, recording what it accepts.

Behaviours a test can switch on:

- ``rcpt_replies``: an address → the reply to its RCPT (``"550 5.1.1 no such user"``);
- ``data_replies``: replies given to the next DATA commands in turn (``"451 try later"``);
- ``hold_mail_after`` / ``hold_data_after``: after that many accepted messages, the
  next MAIL (nothing handed over yet) or the next DATA (the message recorded as
  received, the answer held back) blocks until ``release()``; ``held`` is set when
  it happens, so a test can kill the client at exactly that point.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float = 0.0  # time.monotonic() when the server took it

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Recorder:
    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)
    hold_mail_after: int | None = None
    hold_data_after: int | None = None
    connections: int = 0
    held: threading.Event = field(default_factory=threading.Event)
    _release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- aiosmtpd hooks --------------------------------------------------------------

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.connections += 1
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        if self.hold_mail_after is not None and len(self.received) >= self.hold_mail_after:
            await self._hold()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
        hold = self.hold_data_after is not None and len(self.received) >= self.hold_data_after
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          bytes(envelope.original_content or envelope.content),
                                          time.monotonic()))
        if hold:
            await self._hold()
        return "250 2.0.0 Message accepted for delivery"

    async def _hold(self) -> None:
        self.held.set()
        while not self._release.is_set():
            await asyncio.sleep(0.02)

    # -- for the tests ---------------------------------------------------------------

    def release(self) -> None:
        self.hold_mail_after = self.hold_data_after = None
        self._release.set()

    def per_recipient(self) -> Counter[str]:
        with self.lock:
            return Counter(r.lower() for m in self.received for r in m.rcpt_tos)

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)


class SMTPServer:
    """``tls_context`` (an ``ssl.SSLContext`` with a certificate) offers STARTTLS and, with
    ``credentials``, requires AUTH (after STARTTLS) with that user and password."""

    def __init__(self, *, tls_context: Any = None,
                 credentials: tuple[str, str] | None = None) -> None:
        self.recorder = Recorder()
        self.logins: list[str] = []
        kwargs: dict[str, Any] = {"data_size_limit": 10 * 1024 * 1024}
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        if credentials is not None:
            kwargs.update(authenticator=self._authenticator(credentials), auth_required=True,
                          auth_require_tls=True)
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=_free_port(),
                                     **kwargs)

    def _authenticator(self, credentials: tuple[str, str]) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        def check(server: Any, session: Any, envelope: Any, mechanism: str,
                  auth_data: Any) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode(), auth_data.password.decode()) == credentials
            if ok:
                self.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)

        return check

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.recorder.release()
        self.controller.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)


def _free_port() -> int:
    # aiosmtpd checks its server by connecting to the port it was given, so it needs a
    # real one rather than 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
