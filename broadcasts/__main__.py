"""``python -m broadcasts [serve|worker|import FILE|<resource> <verb> ...]``.

serve (default): REST API + web console on BROADCASTS_PORT, event consumer, scheduler, workers.
worker:          one more send-worker process (no API, no scheduler); ``--metrics-port`` serves
                 its Prometheus metrics.
import FILE:     import a contacts CSV straight into the database (this host's settings) with a
                 progress bar; bad rows listed on stderr.
<resource> <verb>: the REST API client (`broadcasts.cli`): schema, contacts, consent, events,
                 segments, templates, campaigns, webhooks; over HTTP, to --url / BROADCASTS_URL.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Callable, List, Optional

from observability.logs import install_from_env

from . import cli
from .cli.output import bar as _bar
from .context import Context
from .settings import Settings


async def _import(settings: Settings, path: str) -> int:
    from .importer import ContactImporter
    ctx = await Context.open(settings, build_sender=False)
    await ctx.ensure_indexes()
    total = os.path.getsize(path)

    async def progress(report) -> None:  # type: ignore[no-untyped-def]
        sys.stderr.write(f"\r{_bar(report.bytes_read, total)} {report.rows} rows, {report.failed} bad")
        sys.stderr.flush()

    try:
        with open(path, "rb") as stream:
            report = await ContactImporter(ctx.contacts, ctx.ledger, settings.import_batch).run(stream, progress)
    finally:
        await ctx.close()
    sys.stderr.write("\n")
    for line, reason in report.errors:
        sys.stderr.write(f"line {line}: {reason}\n")
    c = report.counts
    print(f"{report.rows} rows: {c.inserted} inserted, {c.updated} updated, {c.unchanged} unchanged, "
          f"{report.failed} rejected, {report.opt_ins} opt-ins recorded")
    return 0 if not report.failed else 1


async def _worker(settings: Settings, workers: int) -> None:
    from .runtime import run_forever
    stop_metrics = _serve_metrics(settings)  # first: a port in use fails before anything else starts
    ctx = await Context.open(settings)
    try:
        await ctx.ensure_indexes()
        await run_forever(ctx, workers=workers, consumer=False, scheduler=False)
    finally:
        await ctx.close()
        stop_metrics()


def _serve_metrics(settings: Settings) -> Callable[[], None]:
    """The worker's metrics endpoint, if a port is set; returns what stops it."""
    port, host = settings.worker_metrics_port, settings.worker_metrics_host
    if not port:
        return lambda: None
    from observability.metrics import serve
    try:
        stop = serve(port, host)
    except OSError as exc:
        raise SystemExit(f"worker metrics: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    logging.getLogger(__name__).info("worker metrics on http://%s:%d/metrics", host, port)
    return stop


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m broadcasts", description=cli.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.add_parser("serve", help="run the API, console, consumer, scheduler and a worker (the default)")
    worker = sub.add_parser("worker", help="run extra send-worker process(es)")
    worker.add_argument("--workers", type=int, default=1)
    worker.add_argument("--metrics-port", type=int, dest="worker_metrics_port", metavar="PORT",
                        help="serve Prometheus metrics on this port (default BROADCASTS_WORKER_METRICS_PORT; 0 = off)")
    worker.add_argument("--metrics-host", dest="worker_metrics_host", metavar="HOST",
                        help="address of the metrics endpoint (default BROADCASTS_WORKER_METRICS_HOST or 127.0.0.1)")
    imp = sub.add_parser("import", help="import a contacts CSV directly into this host's database")
    imp.add_argument("file")
    cli.add_commands(sub, parser)
    args = parser.parse_args(argv)
    if getattr(args, "cli_command", None) is not None:
        return cli.run(args, os.environ)
    install_from_env("broadcasts", os.environ, "BROADCASTS_LOG_LEVEL")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every maintenance tick at INFO
    flags = ("worker_metrics_port", "worker_metrics_host")
    settings = Settings.from_env(**{k: getattr(args, k) for k in flags if getattr(args, k, None) is not None})
    if args.command == "import":
        return asyncio.run(_import(settings, args.file))
    if args.command == "worker":
        if not settings.access_token or not settings.phone_number_id:
            raise SystemExit("WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID are required to send")
        asyncio.run(_worker(settings, args.workers))
        return 0
    from .api.app import create_app
    app = create_app(settings)
    install_from_env("broadcasts", os.environ, "BROADCASTS_LOG_LEVEL")  # again: Sanic's handlers exist now
    app.run(host=settings.host, port=settings.port, single_process=True, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
