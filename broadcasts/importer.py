"""Streamed CSV import of contacts.

The file is read line by line (never loaded whole), parsed with the csv module and upserted in
bulk batches keyed by phone, so re-importing a file changes nothing and says so in its counts.
Columns: ``phone`` (required), ``name``, ``tags`` (``;`` or ``|`` separated), ``opt_in`` /
``marketing_opt_in`` / ``utility_opt_in`` (yes/no: records a consent-ledger opt-in with source
``import``), and any attribute of the schema. Every bad row is reported with its line number and
reason; good rows import regardless.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Any, Awaitable, BinaryIO, Callable, Dict, Iterator, List, Optional, Tuple

from .contacts import ContactInput, ContactStore, UpsertCounts
from .errors import InvalidInput
from .schema import FALSE, TRUE

OPT_IN_COLUMNS = {"opt_in": "marketing", "marketing_opt_in": "marketing", "utility_opt_in": "utility"}
FIXED = {"phone", "name", "tags", *OPT_IN_COLUMNS}

Progress = Callable[["ImportReport"], Awaitable[None]]


@dataclass
class ImportReport:
    rows: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    opt_ins: int = 0
    errors: List[Tuple[int, str]] = field(default_factory=list)
    failed: int = 0
    ignored_columns: List[str] = field(default_factory=list)
    bytes_read: int = 0

    def error(self, line: int, reason: str, keep: int) -> None:
        self.failed += 1
        if len(self.errors) < keep:
            self.errors.append((line, reason))

    def to_dict(self) -> Dict[str, Any]:
        return {"rows": self.rows, "inserted": self.counts.inserted, "updated": self.counts.updated,
                "unchanged": self.counts.unchanged, "failed": self.failed, "opt_ins": self.opt_ins,
                "errors": [{"line": n, "reason": r} for n, r in self.errors],
                "ignored_columns": self.ignored_columns, "bytes_read": self.bytes_read}


class _Lines:
    """Decoded lines of a binary stream, counting bytes for a progress bar."""

    def __init__(self, stream: BinaryIO, report: ImportReport) -> None:
        self.stream, self.report = stream, report

    def __iter__(self) -> Iterator[str]:
        first = True
        for raw in self.stream:
            self.report.bytes_read += len(raw)
            text = raw.decode("utf-8", errors="replace")
            if first:
                text, first = text.lstrip("\ufeff"), False
            yield text


def _rows(reader: Any, report: ImportReport, keep: int) -> Iterator[Tuple[int, List[str]]]:
    """(line, cells) of each row; a row the csv module cannot read (e.g. a cell past its field
    size limit) is reported as a bad row instead of failing the whole import."""
    while True:
        before = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.rows += 1
            report.error(reader.line_num, f"unreadable row: {exc}", keep)
            if reader.line_num == before:  # no progress: stop rather than loop
                return
            continue
        yield reader.line_num, row


class ContactImporter:
    """Imports one CSV stream into a ContactStore (and opt-ins into the consent ledger)."""

    def __init__(self, store: ContactStore, ledger: Any = None, batch: int = 1000, keep_errors: int = 100_000) -> None:
        self.store, self.ledger, self.batch, self.keep_errors = store, ledger, batch, keep_errors

    async def run(self, stream: BinaryIO, progress: Optional[Progress] = None) -> ImportReport:
        report = ImportReport()
        reader = csv.reader(_Lines(stream, report))
        header = [h.strip().lower() for h in next(reader, [])]
        if "phone" not in header:
            report.error(1, "header has no 'phone' column", self.keep_errors)
            return report
        schema = await self.store.schema()
        known = set(schema.names())
        report.ignored_columns = [h for h in header if h not in FIXED and h not in known]
        seen: Dict[int, int] = {}
        pending: List[ContactInput] = []
        opt_ins: List[Tuple[str, str]] = []
        for line, row in _rows(reader, report, self.keep_errors):
            if not any(cell.strip() for cell in row):
                continue
            report.rows += 1
            try:
                contact, categories = await self._parse(header, row, known)
            except InvalidInput as exc:
                report.error(line, str(exc), self.keep_errors)
                continue
            key = int(contact.wa_id)
            if key in seen:
                report.error(line, f"duplicate phone {contact.phone} (first on line {seen[key]})", self.keep_errors)
                continue
            seen[key] = line
            pending.append(contact)
            opt_ins.extend((contact.wa_id, c) for c in categories)
            if len(pending) >= self.batch:
                await self._flush(pending, opt_ins, report, progress)
        await self._flush(pending, opt_ins, report, progress)
        return report

    async def _parse(self, header: List[str], row: List[str], known: set) -> Tuple[ContactInput, List[str]]:
        if len(row) > len(header):
            raise InvalidInput(f"{len(row)} cells but the header has {len(header)} columns")
        cells = dict(zip(header, row))
        attrs = {k: v for k, v in cells.items() if k in known and v.strip()}
        tags = cells.get("tags", "").replace("|", ";").split(";")
        contact = await self.store.parse(cells.get("phone", ""), cells.get("name"), attrs, tags)
        categories = []
        for column, category in OPT_IN_COLUMNS.items():
            value = cells.get(column, "").strip().lower()
            if value in TRUE:
                categories.append(category)
            elif value and value not in FALSE:
                raise InvalidInput(f"{column}: {value!r} is not yes/no")
        return contact, categories

    async def _flush(self, pending: List[ContactInput], opt_ins: List[Tuple[str, str]],
                     report: ImportReport, progress: Optional[Progress]) -> None:
        if pending:
            report.counts.add(await self.store.bulk_upsert(pending))
        if opt_ins and self.ledger is not None:
            report.opt_ins += await self.ledger.import_opt_ins(opt_ins)
        pending.clear()
        opt_ins.clear()
        if progress is not None:
            await progress(report)
