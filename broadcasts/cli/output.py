"""What the CLI prints: JSON (the default, for scripts), plain-text tables, progress bars."""
from __future__ import annotations

import json
import re
import sys
from typing import Any, Callable, Mapping, Sequence, TextIO, Tuple, Union

#: A table column: (header, dotted key into the row, or a function of the row).
Column = Tuple[str, Union[str, Callable[[Mapping[str, Any]], Any]]]
RATE = re.compile(r"-|\d+(\.\d+)?%")


def print_json(data: Any, stream: TextIO = sys.stdout) -> None:
    stream.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def pick(row: Mapping[str, Any], key: str) -> Any:
    """``pick(doc, "consent.marketing.state")``: None where a level is missing."""
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {cell(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """Left-aligned text columns (numbers right-aligned), one header line."""
    values = [[get(row) if callable(get) else pick(row, get) for _, get in columns] for row in rows]
    cells = [[cell(v) for v in row] for row in values]
    widths = [max([len(header)] + [len(r[i]) for r in cells]) for i, (header, _) in enumerate(columns)]
    numeric = [any(r[i] is not None for r in values) and all(_numeric(r[i]) for r in values)
               for i in range(len(columns))]

    def line(texts: Sequence[str]) -> str:
        return "  ".join(t.rjust(w) if num else t.ljust(w) for t, w, num in zip(texts, widths, numeric)).rstrip()

    return "\n".join([line([h for h, _ in columns])] + [line(r) for r in cells])


def _numeric(value: Any) -> bool:
    """Right-aligned: numbers and rates (not digit-only strings such as ids)."""
    if value is None or (isinstance(value, str) and RATE.fullmatch(value)):
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def rows_of(key: str, columns: Sequence[Column]) -> Callable[[Any], str]:
    """A formatter for ``{"<key>": [rows]}`` answers."""
    def render(data: Any) -> str:
        rows = data.get(key) or []
        return table(rows, columns) if rows else f"(no {key})"
    return render


def fields(pairs: Sequence[Column]) -> Callable[[Any], str]:
    """A formatter for one object: ``name: value`` lines."""
    def render(data: Any) -> str:
        width = max(len(label) for label, _ in pairs)
        return "\n".join(f"{label:<{width}}  {cell(get(data) if callable(get) else pick(data, get))}"
                         for label, get in pairs)
    return render


def bar(done: float, total: float, width: int = 30) -> str:
    frac = min(done / total, 1.0) if total else 1.0
    return f"[{'#' * int(frac * width):<{width}}] {frac * 100:5.1f}%"


class Progress:
    """A progress bar on ``stream``: redrawn in place on a terminal; elsewhere (logs, pipes) only
    the final state is written, once."""

    def __init__(self, label: str, stream: TextIO = sys.stderr) -> None:
        self.label, self.stream = label, stream
        self.live = stream.isatty()
        self.last = ""

    def update(self, done: float, total: float, note: str = "") -> None:
        self.last = f"{self.label} {bar(done, total)} {note}".rstrip()
        if self.live:
            self.stream.write("\r" + self.last)
            self.stream.flush()

    def finish(self) -> None:
        if self.last:
            self.stream.write(("\r" if self.live else "") + self.last + "\n")
            self.stream.flush()
