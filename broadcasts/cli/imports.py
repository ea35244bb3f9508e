"""`contacts import FILE`: stream the CSV to the API (upload bar), follow the import job (rows bar),
then list the bad rows on stderr as ``line N: reason`` and print the summary as JSON."""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Dict, Iterator

from .client import USAGE, Api, CliError, segment
from .commands import Namespace
from .output import Progress, print_json

CHUNK = 256 * 1024
POLL_S = 0.3


def import_csv(api: Api, args: Namespace) -> int:
    try:
        size = os.path.getsize(args.file)
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}", USAGE) from None
    upload = Progress("upload ")
    job = api.call("POST", "/api/contacts/import", content=_chunks(args.file, size, upload),
                   headers={"Content-Type": "text/csv", "Content-Length": str(size)})
    upload.finish()
    if args.no_wait:
        print_json(job)
        return 0
    try:
        report = _follow(api, job["job"])
    except KeyboardInterrupt:
        sys.stderr.write(f"\ninterrupted; the import goes on on the server: "
                         f"`python -m broadcasts contacts import-status {job['job']}`\n")
        return 130
    errors = report.pop("errors", None) or []
    for error in errors:
        sys.stderr.write(f"line {error.get('line')}: {error.get('reason')}\n")
    unlisted = int(report.get("failed") or 0) - len(errors)
    if unlisted > 0:
        sys.stderr.write(f"... and {unlisted} more bad rows (not kept by the server)\n")
    print_json(report)
    if report.get("state") != "done":
        raise CliError(f"import {job['job']} failed: {report.get('error') or report.get('state')}")
    return 0


def _chunks(path: str, size: int, progress: Progress) -> Iterator[bytes]:
    sent = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            sent += len(chunk)
            progress.update(sent, size, f"{sent:,} / {size:,} bytes")
            yield chunk


def _follow(api: Api, job: str) -> Dict[str, Any]:
    rows = Progress("import ")
    while True:
        report: Dict[str, Any] = api.call("GET", f"/api/imports/{segment(job)}")
        rows.update(report.get("bytes_read") or 0, report.get("total_bytes") or 0,
                    f"{report.get('rows', 0)} rows, {report.get('failed', 0)} bad")
        if report.get("state") != "running":
            if report.get("state") == "done":
                rows.update(1, 1, f"{report.get('rows', 0)} rows, {report.get('failed', 0)} bad")
            rows.finish()
            return report
        time.sleep(POLL_S)
