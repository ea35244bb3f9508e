"""Log records of every Parley process: phone numbers masked, the trace id attached, one line
each, as text (development) or JSON (production, ``PARLEY_LOG_FORMAT=json``).

:func:`install` is called once by each entrypoint (handoff, broadcasts, sandbox, the Rasa
channel, the action server) after its framework has set up its own handlers. It puts
:class:`ContextFilter` (masking + ``trace_id`` + ``service``) and the chosen formatter on every
handler, and lets loggers that propagate to the root's handlers (Sanic's) log through those only.
httpx's per-request INFO lines (full URLs, query-string tokens included) are raised to WARNING.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Mapping, Optional

from . import trace

FORMATS = ("text", "json")
#: E.164 numbers as Parley and Meta write them: ``+`` and 8-15 digits, or 11-15 bare digits
#: (a wa_id always has its country code). Digits inside words (wamids, hashes) and Redis
#: stream ids (``1732246800000-0``) are left alone; so are 10-digit Unix times.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{8,15}|\d{11,15})(?![\w-])")


def mask(text: str) -> str:
    """``+919876543210`` -> ``91******3210``: country code and last four digits stay readable."""
    return _PHONE.sub(_hide, text)


def _hide(match: "re.Match[str]") -> str:
    digits = match.group().lstrip("+")
    return digits[:2] + "*" * (len(digits) - 6) + digits[-4:]


class ContextFilter(logging.Filter):
    """Masks phone numbers in the message, its arguments and the traceback; adds ``trace_id``
    (the bound one, unless the record names its own) and ``service``."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "parley_masked", False):
            try:
                message = record.getMessage()
            except Exception:  # a bad format string still gets logged, masked
                message = f"{record.msg} {record.args}"
            record.msg, record.args = mask(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
            if record.stack_info:
                record.stack_info = mask(record.stack_info)
            record.parley_masked = True
        if not getattr(record, "trace_id", ""):
            record.trace_id = trace.current()
        record.service = self.service
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [trace id]: message`` (the trace part only while one is bound)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(trace_tag)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        trace_id = getattr(record, "trace_id", "")
        record.trace_tag = f" [{trace_id}]" if trace_id else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, service, trace_id
    (null when none), and ``exc`` with the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": getattr(record, "service", ""),
            "trace_id": getattr(record, "trace_id", "") or None,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exc"] = record.exc_text
        if record.stack_info:
            doc["stack"] = record.stack_info
        return json.dumps(doc, ensure_ascii=False, default=str)


def install(service: str, fmt: str = "text", level: Optional[str] = None) -> None:
    """Format, mask and trace every handler of this process (idempotent; call after the web
    framework configured its logging)."""
    if fmt not in FORMATS:
        raise ValueError(f"PARLEY_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    root = logging.getLogger()
    if level:
        root.setLevel(level.upper())
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    logging.captureWarnings(True)  # warnings become records too: formatted (one JSON line) and masked
    quiet = logging.getLogger("httpx")  # one INFO line per request, URL and query string (tokens) included
    if quiet.level == logging.NOTSET:
        quiet.setLevel(logging.WARNING)
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    loggers = [root] + [lg for lg in logging.Logger.manager.loggerDict.values()
                        if isinstance(lg, logging.Logger) and lg.handlers]
    for logger in loggers:
        if logger is not root and logger.propagate:
            logger.handlers.clear()  # its records reach the root's handlers: one line, formatted alike
            continue
        for handler in logger.handlers:
            handler.setFormatter(formatter)
            for old in [f for f in handler.filters if isinstance(f, ContextFilter)]:
                handler.removeFilter(old)
            handler.addFilter(ContextFilter(service))


def install_from_env(service: str, env: Mapping[str, str], level_var: str = "") -> None:
    """:func:`install` with ``PARLEY_LOG_FORMAT`` (``text`` by default) and the level in
    ``level_var`` (``INFO`` by default)."""
    install(service, env.get("PARLEY_LOG_FORMAT") or "text", (env.get(level_var) if level_var else "") or "INFO")
