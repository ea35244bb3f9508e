"""Log lines: phone numbers masked in the message, its arguments and tracebacks; the bound trace
id and the service on every record; one JSON object per line; `install` formats every handler.
Runs in both envs (the bot's processes log through the same code)."""
from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from typing import Iterator, Tuple

import pytest

from observability import trace
from observability.logs import ContextFilter, JsonFormatter, TextFormatter, mask

ROOT = __file__.rsplit("/tests/", 1)[0]


@pytest.fixture
def json_log() -> Iterator[Tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(ContextFilter("handoff"))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.observability.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, out
    logger.removeHandler(handler)


def lines(out: io.StringIO) -> list:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_line_masks_numbers_in_message_and_args_and_carries_the_trace_id(json_log) -> None:
    logger, out = json_log
    trace_id = trace.for_message("wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgg")
    with trace.bound(trace_id):
        logger.info("reply to %s failed (customer +919876543210, attempt %d)", "919876543210", 2)
    logger.warning("no trace here for %s", "+14155550123")
    first, second = lines(out)
    assert first["message"] == "reply to 91******3210 failed (customer 91******3210, attempt 2)"
    assert first["trace_id"] == trace_id and re.fullmatch(r"[0-9a-f]{32}", trace_id)
    assert first["service"] == "handoff" and first["level"] == "INFO"
    assert first["logger"] == "tests.observability.json"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert second["message"] == "no trace here for 14*****0123" and second["trace_id"] is None
    assert "9876543210" not in out.getvalue() and "4155550123" not in out.getvalue()


def test_tracebacks_are_masked_too(json_log) -> None:
    logger, out = json_log
    try:
        raise ValueError("unknown recipient 919876543210")
    except ValueError:
        logger.exception("send failed")
    (line,) = lines(out)
    assert "ValueError: unknown recipient 91******3210" in line["exc"]
    assert "9876543210" not in out.getvalue()


def test_what_is_not_a_phone_number_is_left_alone() -> None:
    kept = ("partition 3 entry 1732246800000-0 failed at 1732246800; "
            "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgg trace 9f86d081884c7d659a2feaa0c55ad015 port 6379")
    assert mask(kept) == kept
    assert mask("to +6512345678 and 919876543210.") == "to 65****5678 and 91******3210."


def test_trace_ids_are_stable_per_wamid_and_bound_per_context() -> None:
    assert trace.for_message("wamid.A") == trace.for_message("wamid.A") != trace.for_message("wamid.B")
    assert trace.for_message("") != trace.for_message("")  # no wamid: a fresh id
    assert trace.current() == ""
    with trace.bound("outer"):
        with trace.bound(""):  # "" keeps the bound one
            assert trace.current() == "outer"
        with trace.bound("inner"):
            assert trace.current() == "inner"
        assert trace.current() == "outer"
    assert trace.current() == ""


def test_text_lines_show_the_trace_id_only_when_bound() -> None:
    record = logging.LogRecord("connectors.routing", logging.INFO, __file__, 1, "inbound text from %s -> bot",
                               ("919876543210",), None)
    ContextFilter("rasa").filter(record)
    assert TextFormatter().format(record).endswith("INFO connectors.routing: inbound text from 91******3210 -> bot")
    with trace.bound("abc123"):
        record = logging.LogRecord("connectors.sender", logging.INFO, __file__, 1, "sent", None, None)
        ContextFilter("rasa").filter(record)
    assert TextFormatter().format(record).endswith("INFO connectors.sender [abc123]: sent")


def test_install_formats_every_handler_once_in_a_real_process() -> None:
    """A framework's own handler on a propagating logger (Sanic's) would print each line twice
    and unmasked: after `install` there is one masked JSON line per record."""
    script = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
        "sanic = logging.getLogger('sanic.root'); sanic.addHandler(logging.StreamHandler(sys.stderr))\n"
        "from observability.logs import install\n"
        "install('broadcasts', 'json', 'INFO')\n"
        "sanic.info('started for %s', '919876543210')\n"
        "logging.getLogger('httpx').info('HTTP Request: GET http://rasa/?token=secret')\n"
        "logging.getLogger('x').error('+919876543210 failed')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(r["logger"], r["message"], r["service"]) for r in records] == [
        ("sanic.root", "started for 91******3210", "broadcasts"), ("x", "91******3210 failed", "broadcasts")]
