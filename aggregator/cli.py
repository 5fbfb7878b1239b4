"""The ``aggregator`` command line (DESIGN §5): a thin shell over :mod:`aggregator.service`.

Every listing takes ``--json``. Read-only commands never fetch. Errors print one
line and exit non-zero: 2 for a bad config or usage, 3 for storage, 4 for an
unknown id; ``poll`` exits 0 even when sources fail (failures are recorded).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from aggregator import __version__
from aggregator.errors import AggregatorError
from aggregator.models import PollReport, PublishReport, Source, SourceOutcome, Story
from aggregator.service import Explanation, Service


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aggregator",
        description="Merge, deduplicate and tag news on migrant smuggling into one feed.",
    )
    p.add_argument("--config", metavar="PATH",
                   help="config file (default: ./config.toml or $AGGREGATOR_CONFIG)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="one full cycle: poll due sources, send a due digest, "
                         "publish")
    run.add_argument("--once", action="store_true", required=True,
                     help="run one cycle and exit (the daemon is `aggregator worker`)")
    run.add_argument("--offline", action="store_true",
                     help="serve every request from feeds/snapshots/ (no network)")

    poll = sub.add_parser("poll", help="fetch and store the sources that are due")
    poll.add_argument("--all", action="store_true", help="every enabled source, due or not")
    poll.add_argument("--source", action="append", default=[], metavar="ID",
                      help="only this source (repeatable)")
    poll.add_argument("--offline", action="store_true", help="serve from feeds/snapshots/")

    pub = sub.add_parser("publish", help="write every output file (unchanged files are kept)")
    pub.add_argument("--force", action="store_true",
                     help="render everything even if nothing changed since the last publish")

    sub.add_parser("prune", help="remove stories older than [storage] retention_days "
                   "(pinned ones kept), with their copies; old delivery records too")

    wk = sub.add_parser("worker", help="run unattended: poll when due, publish after changes, "
                        "send the digest on its schedule (stops on SIGTERM/SIGINT)")
    wk.add_argument("--offline", action="store_true", help="serve from feeds/snapshots/")
    wk.add_argument("--log-format", choices=("text", "json"), default="text",
                    help="one line per event: text (default) or JSON for machines")
    wk.add_argument("--name", help="this worker's name: its job store in the data folder "
                    "(default: the host name)")

    serve = sub.add_parser("serve", help="serve output/ over HTTP (ETag, 304, gzip) and /healthz")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (8080)")

    sources = sub.add_parser("sources", help="source health and management")
    ssub = sources.add_subparsers(dest="action", metavar="ACTION", required=True)
    sl = ssub.add_parser("list", help="every source with its health")
    sl.add_argument("--json", action="store_true")
    sa = ssub.add_parser("add", help="add a feed by URL (an HTML page: its advertised feed)")
    sa.add_argument("url")
    sa.add_argument("--id", dest="source_id", help="source id (default: from the feed title)")
    sa.add_argument("--title")
    sa.add_argument("--tag", action="append", default=[], help="tag for every item (repeatable)")
    sa.add_argument("--priority", type=int, default=0)
    sa.add_argument("--json", action="store_true")
    for name, text in (("enable", "poll this source again"), ("disable", "stop polling it")):
        sp = ssub.add_parser(name, help=text)
        sp.add_argument("id")
    sc = ssub.add_parser("check", help="fetch a source now and explain each step; stores "
                         "nothing")
    sc.add_argument("id")
    sc.add_argument("--offline", action="store_true", help="from feeds/snapshots/")
    sc.add_argument("--json", action="store_true")
    ssub.add_parser("export-opml", help="print the sources as OPML (what sources.opml holds)")
    si = ssub.add_parser("import-opml", help="add the feeds of an OPML file from any feed reader")
    si.add_argument("file")
    si.add_argument("--tag", action="append", default=[], help="tag for every item (repeatable)")

    items = sub.add_parser("items", help="stories")
    isub = items.add_subparsers(dest="action", metavar="ACTION", required=True)
    il = isub.add_parser("list", help="every visible story, newest first")
    il.add_argument("--all", action="store_true", help="include hidden stories")
    il.add_argument("--tag", help="only stories with this tag")
    il.add_argument("--json", action="store_true")
    ishow = isub.add_parser("show", help="one story with its copies")
    ishow.add_argument("id")
    ishow.add_argument("--explain", action="store_true",
                       help="why it has each tag (rule and matched text) and its event")
    ishow.add_argument("--json", action="store_true")
    imerge = isub.add_parser("merge", help="make two stories one (the first keeps its id)")
    imerge.add_argument("id", help="the story to keep")
    imerge.add_argument("other", help="the story to merge into it")
    isplit = isub.add_parser("split", help="take a copy out of its story")
    isplit.add_argument("copy_id", help="a copy id, as `items show` lists duplicates")

    pin = sub.add_parser("pin", help="feature a story: it leads the page and featured.xml")
    pin.add_argument("id")
    pin.add_argument("--until", type=_until, metavar="DATE",
                     help="unpin after this date (2026-12-31) or time (2026-12-31T18:00Z)")
    pin.add_argument("--note", help="why it is featured (shown to editors)")
    pin.add_argument("--order", type=int, default=0, help="lower comes first (default 0)")
    pin.add_argument("--by", default=_user(), help="who pinned it (default: you)")
    for name, text in (("unpin", "stop featuring a story"),
                       ("hide", "keep a story out of every output (a false positive)"),
                       ("unhide", "publish a hidden story again")):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("id")

    tags = sub.add_parser("tags", help="the tag rules")
    tsub = tags.add_subparsers(dest="action", metavar="ACTION", required=True)
    ttest = tsub.add_parser("test", help="dry-run the rules over stored stories: what would change")
    ttest.add_argument("--rule", metavar="NAME", help="only this rule's tag")
    ttest.add_argument("--json", action="store_true")
    tsub.add_parser("apply", help="re-tag every stored story with the current rules")

    ev = sub.add_parser("eval", help="score dedupe, tags and events on a labelled set")
    ev.add_argument("path", help="a folder with sources.toml, snapshots/ and labels.toml")
    ev.add_argument("--json", action="store_true")

    st = sub.add_parser("status", help="sources by health, stories, last publish")
    st.add_argument("--json", action="store_true")

    from aggregator import cli_digest

    cli_digest.add_parsers(sub, _user())

    from aggregator import cli_users

    cli_users.add_parsers(sub, _user())
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "worker":
        from aggregator.worker import catch_signals_early

        catch_signals_early()
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "eval":  # runs on a store of its own
            return _eval(args, sys.stdout)
        with Service.open(args.config) as service:
            return dispatch(service, args, sys.stdout)
    except AggregatorError as e:
        print(f"aggregator: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader (head, less) went away: not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def dispatch(service: Service, args: argparse.Namespace, out: TextIO) -> int:
    cmd = args.command
    if cmd == "run":
        with _Progress(out) as progress:
            report = service.run_once(offline=args.offline, progress=progress.advance,
                                      on_claimed=progress.start)
        _print_poll(report.poll, out)
        if report.digest is not None:
            from aggregator.cli_digest import _send_line

            print(_send_line(report.digest), file=out)
        elif report.digest_note == "awaiting-approval":
            print("The digest is due but waits for approval (aggregator digest approve).",
                  file=out)
        _print_publish(report.publish, service, out)
    elif cmd == "poll":
        with _Progress(out) as progress:
            polled = service.poll(ids=args.source, all_sources=args.all, offline=args.offline,
                                  progress=progress.advance, on_claimed=progress.start)
        _print_poll(polled, out)
    elif cmd == "publish":
        _print_publish(service.publish(force=args.force), service, out)
    elif cmd == "prune":
        pruned = service.prune()
        days = service.config.storage.retention_days
        if not days:
            print("Retention is off ([storage] retention_days = 0): nothing pruned.", file=out)
        else:
            print(f"Pruned {pruned.stories} stories older than {days} days "
                  f"({pruned.copies} copies) and {pruned.deliveries} delivery records.",
                  file=out)
    elif cmd == "worker":
        from aggregator.worker import Worker, configure_logging

        configure_logging(args.log_format, args.verbose)
        return Worker(service, name=args.name, offline=args.offline,
                      log_format=args.log_format).run()
    elif cmd == "serve":
        from aggregator.web import serve

        serve(service.config, host=args.host, port=args.port)
    elif cmd == "sources":
        return _sources(service, args, out)
    elif cmd == "items":
        return _items(service, args, out)
    elif cmd == "status":
        _status(service, args, out)
    elif cmd == "tags":
        return _tags(service, args, out)
    elif cmd == "pin":
        story = service.pin(args.id, until=args.until, note=args.note, order=args.order,
                            by=args.by)
        until = f" until {args.until.isoformat()}" if args.until else ""
        print(f"pinned {story.id}{until}: {story.title}", file=out)
    elif cmd == "unpin":
        print(f"unpinned {service.unpin(args.id).id}", file=out)
    elif cmd in ("hide", "unhide"):
        story = service.set_hidden(args.id, cmd == "hide")
        print(f"{story.id} is {'hidden' if story.hidden else 'visible'}", file=out)
    elif cmd in ("digest", "subscribers"):
        from aggregator import cli_digest

        return getattr(cli_digest, cmd)(service, args, out)
    elif cmd == "users":
        from aggregator import cli_users

        return cli_users.users(service, args, out)
    return 0


def _until(text: str) -> datetime:
    """A date means through that day (UTC); a time without zone is UTC."""
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC) + timedelta(days=1)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"expected a date such as 2026-12-31 or a time such as 2026-12-31T18:00Z, "
            f"got {text!r}") from e
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


# -- progress ---------------------------------------------------------------------------


class _Progress:
    """A progress bar on a terminal; one plain line per source in a pipe."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        return self

    def start(self, total: int) -> None:
        """Called once per batch of claimed sources: the total grows with each."""
        if not (self.tty and total):
            return
        if self._bar is not None:
            self._bar.update(self._task, total=self._bar.tasks[0].total + total)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(TextColumn("polling"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.description}"), transient=True)
        self._bar.start()
        self._task = self._bar.add_task("", total=total)

    def advance(self, outcome: SourceOutcome) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=outcome.source_id)
        else:
            print(_outcome_line(outcome), file=self.out, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _outcome_line(o: SourceOutcome) -> str:
    if o.error:
        return f"{o.status.value:8} {o.source_id}: {o.error}"
    if o.not_modified:
        return f"{'ok':8} {o.source_id}: not modified"
    if o.unchanged:
        return f"{'ok':8} {o.source_id}: unchanged (the body parsed last time)"
    text = f"{'ok':8} {o.source_id}: {o.new} new, {o.updated} updated"
    if o.warnings:
        text += f" ({len(o.warnings)} warning{'s' if len(o.warnings) != 1 else ''})"
    return text


def _print_poll(report: PollReport, out: TextIO) -> None:
    n = len(report.outcomes)
    print(f"Polled {n} source{'s' if n != 1 else ''}: {report.ok} ok, {report.failed} failed; "
          f"{report.new} new item{'s' if report.new != 1 else ''}, {report.updated} updated.",
          file=out)
    if out.isatty():
        for o in report.outcomes:
            if o.error:
                print("  " + _outcome_line(o), file=out)


def _print_publish(report: PublishReport, service: Service, out: TextIO) -> None:
    if report.skipped:
        print(f"Nothing changed since the last publish: {len(report.unchanged)} files in "
              f"{service.config.output.dir} unchanged.", file=out)
        return
    print(f"Published {report.stories} stories to {service.config.output.dir}: "
          f"{len(report.written)} file{'s' if len(report.written) != 1 else ''} written, "
          f"{len(report.unchanged)} unchanged.", file=out)


# -- sources ----------------------------------------------------------------------------


def source_json(s: Source) -> dict[str, Any]:
    d = s.definition
    return {
        "id": s.id,
        "url": s.fetch_url,
        "kind": d.kind.value,
        "status": s.status.value,
        "last_error": s.last_error,
        "error_count": s.error_count,
        "last_success_at": _iso(s.last_success_at),
        "next_poll_at": _iso(s.next_poll_at),
        "items": s.items,
        "title": d.title,
        "configured_url": d.url,
        "enabled": s.enabled,
        "disabled_reason": s.disabled_reason,
        "tags": list(d.tags),
        "priority": d.priority,
        "origin": d.origin,
    }


def _sources(service: Service, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "list":
        sources = service.list_sources()
        if args.json:
            _dump([source_json(s) for s in sources], out)
        else:
            _table(out, ("ID", "STATUS", "ITEMS", "ERRORS", "LAST SUCCESS", "NEXT POLL", "URL"),
                   [(s.id, s.status.value, str(s.items), str(s.error_count),
                     _short(s.last_success_at), _short(s.next_poll_at), s.fetch_url)
                    for s in sources])
            for s in sources:
                if s.last_error and s.status.value in ("error", "disabled"):
                    print(f"  {s.id}: {s.last_error}", file=out)
    elif args.action == "add":
        src = service.add_source(args.url, source_id=args.source_id, title=args.title,
                                 tags=args.tag, priority=args.priority)
        if args.json:
            _dump(source_json(src), out)
        else:
            print(f"Added {src.id}: {src.fetch_url} ({src.definition.title or 'untitled'})",
                  file=out)
    elif args.action in ("enable", "disable"):
        src = service.set_enabled(args.id, args.action == "enable")
        print(f"{src.id}: {'enabled' if src.enabled else 'disabled'}", file=out)
    elif args.action == "check":
        return _check(service, args, out)
    elif args.action == "export-opml":
        out.write(service.export_opml().decode("utf-8"))
    elif args.action == "import-opml":
        added, skipped = service.import_opml(args.file, tags=args.tag)
        for src in added:
            print(f"added {src.id}: {src.fetch_url}", file=out)
        print(f"Added {len(added)} source{'s' if len(added) != 1 else ''}; "
              f"{skipped} already present.", file=out)
    return 0


def _check(service: Service, args: argparse.Namespace, out: TextIO) -> int:
    """``sources check ID``: what a poll would do, step by step; exit 1 if it fails."""
    source = service.store.get_source(args.id)
    preview = service.preview_source(source.definition, offline=args.offline)
    if args.json:
        _dump({"id": source.id, "url": preview.url, "error": preview.error,
               "steps": list(preview.steps), "warnings": list(preview.warnings),
               "items": preview.total,
               "shown": [{"title": i.title, "url": i.url, "published": _iso(i.published),
                          "tags": [t.tag for t in a.tags],
                          "event": None if a.event is None else a.event.start.isoformat()}
                         for i, a in zip(preview.items, preview.analyses, strict=True)]}, out)
        return 1 if preview.error else 0
    print(f"{source.id}: {source.status.value}, {source.error_count} errors in a row"
          + (f", last: {source.last_error}" if source.last_error else "")
          + (f"; next poll {_short(source.next_poll_at)}" if source.next_poll_at else ""),
          file=out)
    for step in preview.steps:
        print(f"  {step}", file=out)
    for w in preview.warnings:
        print(f"  warning: {w}", file=out)
    if preview.items:
        _table(out, ("DATE", "TITLE", "TAGS"),
               [(_short(i.published)[:10] or "-", _clip(i.title, 60),
                 ",".join(t.tag for t in a.tags if not t.tag.startswith("org:")))
                for i, a in zip(preview.items, preview.analyses, strict=True)])
    return 1 if preview.error else 0


# -- items ------------------------------------------------------------------------------


def story_json(s: Story) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "url": s.url,
        "source": s.source,
        "published": _iso(s.published),
        "tags": list(s.tags),
        "pinned": s.pinned,
        "hidden": s.hidden,
        "event": None if s.event is None else {
            "start": s.event.start.isoformat(),
            "end": s.event.end.isoformat(),
            "location": s.event.location,
            "country": s.event.country,
        },
        "duplicates": [{"id": d.id, "source": d.source, "url": d.url, "title": d.title}
                       for d in s.duplicates],
        "first_seen": _iso(s.first_seen),
        "pin": None if s.pin is None else {
            "at": _iso(s.pin.at), "order": s.pin.order, "until": _iso(s.pin.until),
            "note": s.pin.note, "by": s.pin.by},
    }


def _items(service: Service, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "list":
        stories = service.list_stories(include_hidden=args.all, tag=args.tag)
        if args.json:
            _dump([story_json(s) for s in stories], out)
        else:
            _table(out, ("ID", "PUBLISHED", "SOURCE", "COPIES", "TITLE"),
                   [(s.id, s.published.date().isoformat(), s.source,
                     str(1 + len(s.duplicates)), _clip(s.title, 90) + (" [hidden]" if s.hidden else ""))
                    for s in stories])
    elif args.action == "show":
        if args.explain:
            why = service.explain(args.id)
            if args.json:
                data = story_json(why.story)
                data["explain"] = {
                    "tags": [{"tag": r.tag, "rule": r.rule, "matched": r.matched,
                              "field": r.field, "copy": r.copy_id, "source": r.source}
                             for r in why.reasons],
                    "event": why.event_text,
                }
                _dump(data, out)
            else:
                _show_story(why.story, out, why)
        else:
            story = service.get_story(args.id)
            _dump(story_json(story), out) if args.json else _show_story(story, out)
    elif args.action == "merge":
        story = service.merge(args.id, args.other)
        print(f"{args.other} merged into {story.id}: {1 + len(story.duplicates)} copies",
              file=out)
    elif args.action == "split":
        story = service.split(args.copy_id)
        print(f"copy {args.copy_id} is now story {story.id}", file=out)
    return 0


def _show_story(s: Story, out: TextIO, why: Explanation | None = None) -> None:
    from aggregator.normalize import plain_text

    lines = [
        s.title,
        f"  id:         {s.id}",
        f"  url:        {s.url or '-'}",
        f"  source:     {s.source} ({s.source_title})" if s.source_title else f"  source: {s.source}",
        f"  published:  {_iso(s.published)}",
        f"  first seen: {_iso(s.first_seen)}",
        f"  tags:       {', '.join(s.tags) or '-'}",
        f"  pinned:     {'yes' if s.pinned else 'no'}    hidden: {'yes' if s.hidden else 'no'}",
    ]
    if s.event:
        lines.append(f"  event:      {s.event.start} to {s.event.end}, {s.event.location or '?'}")
    if s.duplicates:
        lines.append("  also published as:")
        lines.extend(f"    {d.id}  {d.source}  {d.url or '-'}  {d.title}" for d in s.duplicates)
    if why is not None:
        lines.append("  why these tags:")
        for r in why.reasons:
            where = f" in {r.field}" if r.field else ""
            said = f': "{_clip(r.matched, 80)}"' if r.matched and r.rule != "source" else ""
            lines.append(f"    {r.tag:32} {r.rule}{where}{said}  [{r.source}]")
        if why.event_text:
            lines.append(f'  event from: "{_clip(why.event_text, 100)}"')
    summary = plain_text(s.summary_html)
    if summary:
        lines += ["", _clip(summary, 600)]
    content = plain_text(s.content_html)
    if content and content != summary:
        lines += ["", _clip(content, 4000)]
    print("\n".join(lines), file=out)


# -- tags and eval ---------------------------------------------------------------------


def _tags(service: Service, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "test":
        changes = service.tag_changes(args.rule)
        if args.json:
            _dump([{"copy": c.copy_id, "story": c.story_id, "source": c.source,
                    "title": c.title, "added": list(c.added), "removed": list(c.removed)}
                   for c in changes], out)
            return 0
        for c in changes:
            diff = " ".join([*(f"+{t}" for t in c.added), *(f"-{t}" for t in c.removed)])
            print(f"{c.story_id}  {c.source:28}  {diff}  {_clip(c.title, 60)}", file=out)
        stories = len({c.story_id for c in changes})
        print(f"{len(changes)} cop{'ies' if len(changes) != 1 else 'y'} in {stories} "
              f"stor{'ies' if stories != 1 else 'y'} would change "
              "(nothing was written; `aggregator tags apply` applies it).", file=out)
    elif args.action == "apply":
        print(f"Re-tagged {service.apply_tag_rules()} copies.", file=out)
    return 0


def _eval(args: argparse.Namespace, out: TextIO) -> int:
    from aggregator.evaluate import evaluate, load_base_config

    scores = evaluate(args.path, load_base_config(args.config))
    if args.json:
        _dump(scores.as_dict(), out)
    else:
        print(scores.report(), file=out)
    return 0


# -- status -----------------------------------------------------------------------------


def _status(service: Service, args: argparse.Namespace, out: TextIO) -> None:
    st = service.status()
    failing: list[Source] = st["failing"]  # type: ignore[assignment]
    if args.json:
        data = dict(st)
        data["failing"] = [source_json(s) for s in failing]
        data["last_publish_at"] = _iso(st["last_publish_at"])  # type: ignore[arg-type]
        data["output_dir"] = str(st["output_dir"])
        _dump(data, out)
        return
    counts = st["sources_by_status"]
    assert isinstance(counts, dict)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"
    print(f"Sources:      {st['sources']} ({summary})", file=out)
    for s in failing:
        retry = f"; next try {_short(s.next_poll_at)}" if s.next_poll_at else ""
        print(f"  {s.id}: {s.last_error} (failed {s.error_count}x{retry})", file=out)
    print(f"Stories:      {st['stories']} visible, {st['hidden']} hidden", file=out)
    print(f"Last publish: {_short(st['last_publish_at']) or 'never'} "  # type: ignore[arg-type]
          f"to {st['output_dir']}", file=out)
    nd = st["next_digest"]
    assert isinstance(nd, dict)
    state = nd["status"] or ("due now" if nd["due"] else "not due yet")
    if nd["approval_needed"]:
        state += ", waiting for approval"
    counts = ", ".join(f"{n} {k}" for k, n in sorted(nd["deliveries"].items()))
    print(f"Digest:       {nd['period']}: {state}{f' ({counts})' if counts else ''}; "
          f"scheduled {str(nd['scheduled'])[:16].replace('T', ' ')} UTC; "
          f"{nd['subscribers']} active subscribers", file=out)
    if nd.get("previous"):
        prev = nd["previous"]
        done = ", ".join(f"{n} {k}" for k, n in sorted(prev["deliveries"].items())) or "none"
        print(f"              {prev['period']} was sent ({done})", file=out)
    print(f"Database:     {st['database']}", file=out)


# -- formatting helpers -----------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _short(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _dump(data: Any, out: TextIO) -> None:
    json.dump(data, out, ensure_ascii=False, indent=2)
    out.write("\n")


def _table(out: TextIO, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    widths[-1] = 0  # the last column is not padded
    for row in (header, *rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
