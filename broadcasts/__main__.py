"""``python -m broadcasts [serve|worker|import FILE]``.

serve (default): REST API + web console on BROADCASTS_PORT, event consumer, scheduler, workers.
worker:          one more send-worker process (no API, no scheduler).
import FILE:     import a contacts CSV with a progress bar; bad rows listed on stderr.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import List, Optional

from .context import Context
from .settings import Settings


def _bar(done: int, total: int, width: int = 30) -> str:
    frac = done / total if total else 1.0
    return f"[{'#' * int(frac * width):<{width}}] {frac * 100:5.1f}%"


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
    ctx = await Context.open(settings)
    await ctx.ensure_indexes()
    try:
        await run_forever(ctx, workers=workers, consumer=False, scheduler=False)
    finally:
        await ctx.close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m broadcasts")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve")
    worker = sub.add_parser("worker")
    worker.add_argument("--workers", type=int, default=1)
    imp = sub.add_parser("import")
    imp.add_argument("file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("BROADCASTS_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every maintenance tick at INFO
    settings = Settings.from_env()
    if args.command == "import":
        return asyncio.run(_import(settings, args.file))
    if args.command == "worker":
        if not settings.access_token or not settings.phone_number_id:
            raise SystemExit("WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID are required to send")
        asyncio.run(_worker(settings, args.workers))
        return 0
    from .api.app import create_app
    app = create_app(settings)
    app.run(host=settings.host, port=settings.port, single_process=True, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
