"""The ``digest`` and ``subscribers`` commands (DESIGN §5), over :mod:`aggregator.digest`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, TextIO

from aggregator.models import SUBSCRIBER_STATUSES, Subscriber
from aggregator.service import Service

if TYPE_CHECKING:  # the digest's modules (mail, templates) load when a command needs them
    from aggregator.digest import DigestStatus, SendReport


def _period(text: str) -> str:
    try:
        from aggregator.digest.build import parse_period

        return parse_period(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def add_parsers(sub: Any, user: str | None) -> None:
    dg = sub.add_parser("digest", help="the weekly digest: preview, approve, send, status")
    dsub = dg.add_subparsers(dest="action", metavar="ACTION", required=True)
    pv = dsub.add_parser("preview", help="write the digest's HTML and text; print their paths")
    pv.add_argument("--period", type=_period, metavar="P", help="ISO week, e.g. 2026-W48")
    pv.add_argument("--tags", default="", metavar="T,…",
                    help="as a subscriber with these topic filters sees it")
    sd = dsub.add_parser("send", help="send the period's digest if it has not been sent")
    sd.add_argument("--period", type=_period, metavar="P", help="ISO week (default: this week)")
    sd.add_argument("--test", metavar="ADDRESS",
                    help="send one copy to ADDRESS only; nothing is marked as sent")
    sd.add_argument("--resend-unknown", action="store_true",
                    help="also send again the messages whose fate a crash left unknown")
    ap = dsub.add_parser("approve", help="approve the digest (it is frozen as previewed)")
    ap.add_argument("--period", type=_period, metavar="P")
    ap.add_argument("--by", default=user, help="who approves (default: you)")
    stt = dsub.add_parser("status", help="the period's digest: deliveries by state")
    stt.add_argument("--period", type=_period, metavar="P")
    stt.add_argument("--json", action="store_true")

    sb = sub.add_parser("subscribers", help="the people who get the digest")
    ssub = sb.add_subparsers(dest="action", metavar="ACTION", required=True)
    sa = ssub.add_parser("add", help="subscribe an address (a confirmation email is sent)")
    sa.add_argument("email")
    sa.add_argument("--tags", default="", metavar="T,…",
                    help="topic filters, e.g. migrant-smuggling,country:ly (default: all)")
    sa.add_argument("--confirmed", action="store_true",
                    help="active at once, no confirmation email (you vouch for consent)")
    si = ssub.add_parser("import", help="add the addresses of a CSV (columns email, tags)")
    si.add_argument("file")
    si.add_argument("--confirmed", action="store_true",
                    help="active at once, no confirmation emails (you vouch for consent)")
    sr = ssub.add_parser("remove", help="delete a subscriber and their delivery records")
    sr.add_argument("email")
    sl = ssub.add_parser("list", help="every subscriber")
    sl.add_argument("--status", choices=SUBSCRIBER_STATUSES)
    sl.add_argument("--search", metavar="TEXT", help="addresses containing TEXT")
    sl.add_argument("--json", action="store_true")


def subscriber_json(s: Subscriber) -> dict[str, Any]:
    return {
        "id": s.id, "email": s.email, "status": s.status, "tags": list(s.tags),
        "created_at": s.created_at.isoformat(),
        "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
        "unsubscribed_at": s.unsubscribed_at.isoformat() if s.unsubscribed_at else None,
        "bounce_count": s.bounce_count, "last_error": s.last_error, "origin": s.origin,
    }


def subscribers(service: Service, args: argparse.Namespace, out: TextIO) -> int:
    from aggregator.cli import _dump, _table

    d = service.digests
    if args.action == "add":
        result = d.add(args.email, tags=args.tags, confirmed=args.confirmed)
        s = result.subscriber
        if result.confirmation_sent:
            print(f"{s.email}: pending; a confirmation email was sent", file=out)
        elif result.changed:
            print(f"{s.email}: active", file=out)
        else:
            print(f"{s.email}: already subscribed ({s.status})", file=out)
    elif args.action == "import":
        report = d.import_csv(args.file, confirmed=args.confirmed)
        state = "active" if args.confirmed else "pending, confirmation sent"
        print(f"Imported {args.file}: {report.added} added ({state}), "
              f"{report.unchanged} already subscribed, {len(report.problems)} rejected.",
              file=out)
        for p in report.problems:
            print(f"  line {p.line}: {p.message}", file=sys.stderr)
        return 1 if report.problems else 0
    elif args.action == "remove":
        s = d.remove(args.email)
        print(f"removed {s.email}", file=out)
    elif args.action == "list":
        subs = d.list(status=args.status, search=args.search)
        if args.json:
            _dump([subscriber_json(s) for s in subs], out)
        else:
            _table(out, ["EMAIL", "STATUS", "TOPICS", "SINCE"],
                   [[s.email, s.status, ",".join(s.tags) or "all",
                     s.created_at.strftime("%Y-%m-%d")] for s in subs])
    return 0


def _send_line(r: SendReport) -> str:
    if r.outcome == "no-subscribers":
        return (f"Digest {r.period}: no active subscriber yet; it waits for the first "
                "(aggregator subscribers add).")
    if r.outcome == "empty":
        return (f"Digest {r.period}: nothing new since the last digest; not sent "
                "([digest] send_empty = true sends it anyway).")
    if r.outcome == "already-sent":
        return f"Digest {r.period} was already sent ({_counts(r.counts)})."
    head = "sent" if r.outcome == "sent" else "partly sent"
    extra = []
    if r.retry_later:
        extra.append(f"{r.retry_later} to retry later (temporary refusals)")
    if r.unknown:
        extra.append(f"{r.unknown} of unknown fate (see `aggregator digest status`)")
    more = "; " + "; ".join(extra) if extra else ""
    return (f"Digest {r.period} {head}: {r.sent} sent now, {r.skipped} skipped, "
            f"{r.failed} failed{more}. Total: {_counts(r.counts)}.")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no deliveries"


def digest(service: Service, args: argparse.Namespace, out: TextIO) -> int:
    from aggregator.cli import _dump

    d = service.digests
    if args.action == "preview":
        p = d.preview(args.period, tags=args.tags)
        state = "frozen" if p.frozen else "as it would be sent now"
        print(f"{p.subject} ({state})", file=out)
        print(p.html, file=out)
        print(p.text, file=out)
    elif args.action == "send":
        if args.test:
            msg_id = d.send_test(args.test, args.period)
            print(f"test copy of {args.period or d.current_period()} sent to {args.test} "
                  f"({msg_id})", file=out)
            return 0
        report = d.send(args.period, resend_unknown=args.resend_unknown)
        print(_send_line(report), file=out)
        return 0 if report.outcome != "partial" or not report.failed else 1
    elif args.action == "approve":
        record = d.approve(args.period, by=args.by or "unknown")
        print(f"Digest {record.period} approved by {record.approved_by}: "
              f"{record.story_count} stories, frozen; `aggregator digest send` sends it.",
              file=out)
    elif args.action == "status":
        st = d.status(args.period)
        if args.json:
            _dump(status_json(st), out)
        else:
            _print_status(st, out)
    return 0


def status_json(st: DigestStatus) -> dict[str, Any]:
    r = st.record
    return {
        "period": st.period, "status": r.status if r else None,
        "scheduled": st.scheduled.isoformat(), "due": st.due,
        "approval_needed": st.approval_needed,
        "approved_by": r.approved_by if r else None,
        "approved_at": r.approved_at.isoformat() if r and r.approved_at else None,
        "stories": r.story_count if r else None,
        "created_at": r.created_at.isoformat() if r else None,
        "sent_at": r.sent_at.isoformat() if r and r.sent_at else None,
        "deliveries": st.counts,
        "unknown": [{"delivery": i, "email": e, "error": err} for i, e, err in st.unknown],
        "subscribers": st.subscribers,
    }


def _print_status(st: DigestStatus, out: TextIO) -> None:
    r = st.record
    print(f"Digest {st.period}: {r.status if r else 'not built yet'}; scheduled "
          f"{st.scheduled.strftime('%Y-%m-%d %H:%M UTC')}; due now: {'yes' if st.due else 'no'}",
          file=out)
    if r is not None:
        approved = f", approved by {r.approved_by}" if r.approved_by else ""
        print(f"  {r.story_count} stories{approved}", file=out)
        print(f"  deliveries: {_counts(st.counts)}", file=out)
    if st.approval_needed:
        print("  waiting for approval (aggregator digest approve)", file=out)
    for i, email, err in st.unknown:
        print(f"  unknown fate: delivery {i} to {email}: {err}", file=out)
    if st.unknown:
        print("  (`aggregator digest send --resend-unknown` sends those again)", file=out)
    print(f"Subscribers: {_counts(st.subscribers)}", file=out)
