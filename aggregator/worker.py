"""``aggregator worker``: the service unattended, on APScheduler 3 (DESIGN §6 "scheduler").

Jobs, with stable ids:

- ``poll`` (every ``[worker] tick``): claim the sources that are due and poll them
  (the same :meth:`Service.poll` as the CLI; concurrency is bounded overall and per
  host by ``[fetch]``); when anything changed, a publish is scheduled;
- ``publish`` (``[worker] publish_delay`` after the last change: debounced, so a burst
  of polls makes one publish);
- ``prune`` (daily): retention, ``[storage] retention_days``;
- ``digest`` (cron on ``[digest] weekday``/``time``/``timezone``, ``coalesce`` and a
  misfire grace of ``[worker] digest_grace``): a worker that was down at send time
  sends once when it comes back within the grace, never twice. The very first digest
  is due at once, and a digest left open (its sender died, or the server refused for
  a while) is finished: both by the ``poll`` job.

Each worker keeps its own job store (SQLite in the data folder, named after the
worker): APScheduler 3 cannot share one between schedulers. What must happen once
across workers is guaranteed by the database (source leases, one digest row per
period, one delivery row per subscriber), not by the scheduler.

SIGTERM or SIGINT: stop claiming; the poll in flight finishes (bounded by the fetch
timeouts), a digest being sent stops after the current message and gives its claims
back; then the process exits 0. One log line per cycle (``--log-format json`` for
machines).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator.config import WEEKDAYS, Config
from aggregator.service import Service

log = logging.getLogger("aggregator.worker")

#: the running worker, for the job functions (the persistent job store keeps only a
#: function's import path, never the objects it would need)
_CURRENT: Worker | None = None


#: set by a SIGTERM/SIGINT that arrives while the worker is still starting up
_EARLY_STOP = threading.Event()


def catch_signals_early() -> None:
    """Called first thing by ``aggregator worker``: a stop asked for during start-up
    (imports, migrations, source sync) is honoured too, and exits 0."""
    def on_signal(signum: int, _frame: object) -> None:
        _EARLY_STOP.set()

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)


def run_job(name: str) -> None:
    """What the job store calls; dispatches to the running worker."""
    worker = _CURRENT
    if worker is None or worker.stopping.is_set():
        return
    getattr(worker, f"job_{name}")()


@dataclass
class Cycle:
    """What one tick did, for its log line."""

    polled: int = 0
    ok: int = 0
    failed: int = 0
    new: int = 0
    updated: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


class Worker:
    def __init__(self, service: Service, *, name: str | None = None, offline: bool = False,
                 log_format: str = "text") -> None:
        self.service = service
        self.config: Config = service.config
        self.name = name or socket.gethostname()
        self.offline = offline
        self.log_format = log_format
        self.stopping = threading.Event()
        self.scheduler: Any = None
        self.last_resume = float("-inf")
        self.digest_lock = threading.Lock()

    # -- the jobs --------------------------------------------------------------------

    def job_poll(self) -> None:
        started = time.monotonic()
        report = self.service.poll(offline=self.offline)
        outcomes = report.outcomes
        cycle = Cycle(polled=len(outcomes),
                      ok=sum(1 for o in outcomes if not o.error),
                      failed=sum(1 for o in outcomes if o.error),
                      new=sum(o.new for o in outcomes), updated=sum(o.updated for o in outcomes),
                      seconds=time.monotonic() - started,
                      errors=[f"{o.source_id}: {o.error}" for o in outcomes if o.error])
        if cycle.polled:
            self.emit("poll", polled=cycle.polled, ok=cycle.ok, failed=cycle.failed,
                      new=cycle.new, updated=cycle.updated, seconds=round(cycle.seconds, 2),
                      errors=cycle.errors)
        if cycle.new or cycle.updated:
            self.schedule_publish()
        latest = self.service.store.latest_digest(content=False)
        if self.stopping.is_set():
            return
        if latest is None:
            self.job_digest()  # with no digest ever sent, one is due at once
        elif latest.status == "open" and (time.monotonic() - self.last_resume
                                          >= self.config.digest.lease):
            # an open digest (its sender died, or the server refused for a while) is
            # finished by whichever worker gets here, at most once a lease: a dead
            # sender's claims are free only then, and a refusing server gets a rest
            self.last_resume = time.monotonic()
            self.job_digest()

    def job_publish(self) -> None:
        started = time.monotonic()
        report = self.service.publish()
        self.emit("publish", written=len(report.written), unchanged=len(report.unchanged),
                  skipped=report.skipped, seconds=round(time.monotonic() - started, 2))

    def job_digest(self) -> None:
        # the cron job and a tick's resume must not send side by side in one worker
        if not self.digest_lock.acquire(blocking=False):
            return
        try:
            self._send_digest()
        finally:
            self.digest_lock.release()

    def _send_digest(self) -> None:
        started = time.monotonic()
        sent, note = self.service.send_digest_if_due(stop=self.stopping)
        if sent is None or sent.outcome == "no-subscribers":
            if note:
                self.emit("digest", period=self.service.digests.current_period(), outcome=note)
            return
        self.emit("digest", period=sent.period, outcome=sent.outcome, sent=sent.sent,
                  skipped=sent.skipped, failed=sent.failed, unknown=sent.unknown,
                  retry_later=sent.retry_later, seconds=round(time.monotonic() - started, 2))
        self.schedule_publish()  # digests/index.html lists it

    def job_prune(self) -> None:
        report = self.service.prune()
        if report.stories or report.deliveries:
            self.emit("prune", stories=report.stories, copies=report.copies,
                      deliveries=report.deliveries)
            self.schedule_publish()

    def schedule_publish(self) -> None:
        if self.scheduler is None or self.stopping.is_set():
            return
        delay = self.config.worker.publish_delay
        self.scheduler.add_job(run_job, "date", args=["publish"], id="publish",
                               jobstore="memory", replace_existing=True,
                               run_date=datetime.now(UTC) + timedelta(seconds=delay),
                               misfire_grace_time=None)

    # -- logging ---------------------------------------------------------------------

    def emit(self, event: str, **fields: Any) -> None:
        if self.log_format == "json":
            log.info(json.dumps({"event": event, "worker": self.name,
                                 "at": datetime.now(UTC).isoformat(timespec="seconds"),
                                 **fields}, ensure_ascii=False))
            return
        parts = [f"{k}={v}" for k, v in fields.items() if k != "errors"]
        line = f"{event}: " + " ".join(parts)
        errors = fields.get("errors") or []
        if errors:
            line += "; " + "; ".join(errors[:5]) + (" ..." if len(errors) > 5 else "")
        log.info(line)

    # -- running ---------------------------------------------------------------------

    def build_scheduler(self) -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        folder = self.config.storage.data_dir
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
        jobs_db = folder / f"jobs-{safe}.sqlite"
        return BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{jobs_db}"),
                       "memory": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(3)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC)

    def digest_trigger(self) -> Any:
        from apscheduler.triggers.cron import CronTrigger

        d = self.config.digest
        hour, minute, *rest = (int(x) for x in d.time.split(":"))
        return CronTrigger(day_of_week=WEEKDAYS.index(d.weekday), hour=hour, minute=minute,
                           second=rest[0] if rest else 0, timezone=d.timezone)

    def start(self) -> None:
        global _CURRENT
        _CURRENT = self
        w = self.config.worker
        scheduler = self.build_scheduler()
        scheduler.start(paused=True)
        self.scheduler = scheduler
        trigger = self.digest_trigger()
        existing = scheduler.get_job("digest")
        # keep a stored digest job whose schedule did not change: its next run time is
        # what lets a worker that was down at send time catch up (within the grace)
        if existing is None or str(existing.trigger) != str(trigger):
            scheduler.add_job(run_job, trigger, args=["digest"], id="digest",
                              replace_existing=True, misfire_grace_time=int(w.digest_grace),
                              coalesce=True)
        else:
            scheduler.modify_job("digest", misfire_grace_time=int(w.digest_grace))
        scheduler.add_job(run_job, "interval", args=["poll"], id="poll", jobstore="memory",
                          seconds=w.tick, next_run_time=datetime.now(UTC),
                          replace_existing=True, misfire_grace_time=None)
        if self.config.storage.retention_days:
            scheduler.add_job(run_job, "interval", args=["prune"], id="prune",
                              jobstore="memory", hours=24, replace_existing=True,
                              next_run_time=datetime.now(UTC) + timedelta(minutes=5))
        scheduler.resume()
        job = scheduler.get_job("digest")
        self.emit("start", tick=w.tick, offline=self.offline,
                  next_digest=job.next_run_time.isoformat() if job and job.next_run_time
                  else None)

    def stop(self) -> None:
        global _CURRENT
        self.stopping.set()
        if self.scheduler is not None:
            from apscheduler.jobstores.base import JobLookupError

            for job_id in ("poll", "publish", "prune"):
                with contextlib.suppress(JobLookupError):  # not scheduled: nothing to remove
                    self.scheduler.remove_job(job_id, jobstore="memory")
            self.scheduler.shutdown(wait=True)  # in-flight jobs finish or give work back
            self.scheduler = None
        _CURRENT = None
        self.emit("stop", clean=True)

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; exit status 0."""
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            log.info("signal %s: stopping", signal.Signals(signum).name)
            self.stopping.set()
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        if _EARLY_STOP.is_set():  # asked to stop before we were running
            self.emit("stop", clean=True, before_start=True)
            return 0
        try:
            self.start()
            while not stop.wait(1.0):
                pass
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 0


def configure_logging(log_format: str, verbose: int = 0) -> None:
    """One line per event on stderr; ``json``: the message is the JSON object."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("aggregator")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    root.propagate = False
    logging.getLogger("apscheduler").setLevel(logging.WARNING if not verbose else logging.INFO)
    logging.getLogger("apscheduler").addHandler(handler)
