"""Telling a WebSub hub that feeds changed (https://www.w3.org/TR/websub/ §7).

After a publish that rewrote feeds, one ``hub.mode=publish`` POST per changed feed
URL goes to ``[output] websub_hub`` over one connection. A hub that is down or
refuses costs a logged warning, never the publish: subscribers still poll.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PingReport:
    sent: int
    failed: tuple[str, ...]


def notify_hub(hub: str, urls: Sequence[str], *, user_agent: str,
               timeout: float = 10.0) -> PingReport:
    failed: list[str] = []
    if not urls:
        return PingReport(0, ())
    with httpx.Client(timeout=timeout, headers={"User-Agent": user_agent},
                      follow_redirects=False, trust_env=False) as client:
        for url in urls:
            try:
                response = client.post(hub, data={"hub.mode": "publish", "hub.url": url})
                if response.status_code >= 300:
                    failed.append(f"{url}: HTTP {response.status_code}")
            except httpx.HTTPError as e:
                failed.append(f"{url}: {type(e).__name__}: {e}")
                break  # the hub is unreachable: no point trying the rest now
    for problem in failed:
        log.warning("WebSub hub %s: %s", hub, problem)
    return PingReport(len(urls) - len(failed), tuple(failed))
