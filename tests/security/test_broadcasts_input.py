"""Bad input to the broadcasts API (a real process): the business events API and the CSV import
under random fields and rows answer 2xx or a 4xx, never a 5xx; a rejected request leaves MongoDB
as it was (document counts before/after); a CSV import finishes with per-row errors instead of
failing as a whole."""
from __future__ import annotations

import csv
import io
import json
import time
import uuid
from typing import Any, Dict, Iterator

import httpx
import pytest

pytest.importorskip("argon2")  # services env only
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from .corpus import XSS  # noqa: E402
from .services import counts, issue_token, start_broadcasts  # noqa: E402

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def service(tmp_path: Any, redis_url: str, mongo_url: str, mongo_db_name: str, sandbox: Any) -> Iterator[Any]:
    token = issue_token(redis_url, mongo_url, mongo_db_name, "marketer1", "marketer")
    for handle in start_broadcasts(tmp_path, redis_url, mongo_url, mongo_db_name, sandbox):
        http = httpx.Client(base_url=handle.url, timeout=30, headers={"Authorization": f"Bearer {token}"})
        assert http.post("/api/templates/sync").status_code < 300
        assert http.put("/api/schema", json={"attributes": [
            {"name": "first_name", "type": "string"}, {"name": "shoe_size", "type": "number"},
            {"name": "vip", "type": "boolean"}]}).status_code == 200
        yield type("Svc", (), {"http": http, "proc": handle, "mongo": (mongo_url, mongo_db_name)})
        http.close()


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30),
                    st.sampled_from(XSS + ["+919840012345", "919840012345", "+1 650 555 1234", "0", "x" * 300]))
values = st.recursive(scalars, lambda i: st.lists(i, max_size=3) | st.dictionaries(st.text(max_size=8), i, max_size=3),
                      max_leaves=8)
phones = st.one_of(st.sampled_from(["+919840012345", "+16505551234", "+447700900123"]), scalars)
events = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.uuids().map(str), scalars), "type": st.one_of(st.sampled_from(["signup", "order"]), values),
    "phone": phones, "name": st.one_of(st.sampled_from(XSS), values),
    "attributes": st.one_of(st.dictionaries(st.sampled_from(["first_name", "shoe_size", "vip", "nope"]), values,
                                            max_size=3), values),
    "tags": st.one_of(st.lists(st.text(max_size=10), max_size=3), values),
    "opt_in": st.one_of(st.lists(st.sampled_from(["marketing", "utility", "spam"]), max_size=2), values),
    "template": st.one_of(st.fixed_dictionaries({"id": st.sampled_from(["hello_world", "order_update", "nope"]),
                                                 "variables": values}), values),
})


def check_event(svc: Any, event: Dict[str, Any]) -> None:
    before = counts(*svc.mongo)
    response = svc.http.post("/api/events", content=json.dumps(event))
    assert response.status_code < 500, (event, response.status_code, svc.proc.output()[-1200:])
    if response.status_code >= 400:
        after = counts(*svc.mongo)
        assert after == before, ("a rejected request changed MongoDB", event, response.text, before, after)


def test_events_api_random_fields(service: Any) -> None:
    @FUZZ
    @given(event=events)
    def run(event: Dict[str, Any]) -> None:
        check_event(service, event)

    run()


REJECTED = [
    {"id": "e-notfound", "type": "order", "phone": "+919840012345", "template": {"id": "no_such_template"}},
    {"id": "e-marketing", "type": "order", "phone": "+919840012346", "template": {"id": "spring_sale"}},
    {"id": "e-badcat", "type": "order", "phone": "+919840012347", "opt_in": ["spam"]},
    {"id": "e-strtemplate", "type": "order", "phone": "+919840012348", "template": "hello_world"},
    {"id": "e-vars", "type": "order", "phone": "+919840012349", "template": {"id": "order_update", "variables": 5}},
    {"id": "e-tags", "type": "order", "phone": "+919840012350", "tags": "vip"},
    {"id": "e-name", "type": "order", "phone": "+919840012351", "name": {"$ne": 1}},
]


def test_rejected_events_leave_no_trace_and_can_be_retried(service: Any) -> None:
    for event in REJECTED:
        check_event(service, event)
        retry = service.http.post("/api/events", json=event)
        assert retry.status_code >= 400 and retry.json().get("duplicate") is not True, \
            ("a rejected event must not be remembered as processed", event, retry.text)
    response = service.http.post("/api/events", json={"id": str(uuid.uuid4()), "type": "x", "phone": "nope"})
    assert response.status_code == 400 and "Traceback" not in response.text
    for body in (b"", b"not json", b"[]", b"null", b"\"x\"", b"{\"id\":", b"\xff\xfe", b"{\"id\":1e999}"):
        before = counts(*service.mongo)
        response = service.http.post("/api/events", content=body)
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text)
        assert counts(*service.mongo) == before


def run_import(svc: Any, data: bytes) -> Dict[str, Any]:
    job = svc.http.post("/api/contacts/import", content=data)
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 30
    while True:
        doc = svc.http.get(f"/api/imports/{job.json()['job']}").json()
        if doc.get("state") != "running":
            return doc
        assert time.monotonic() < deadline
        time.sleep(0.1)


cells = st.one_of(st.text(max_size=40), st.sampled_from(XSS + ["yes", "no", "maybe", "7", "-1e9", "true", "\x00",
                                                               "a\nb", "\"", "x" * 2000]))
rows = st.lists(st.tuples(st.one_of(st.integers(9840000000, 9840099999).map(lambda n: f"+91{n}"), cells),
                          cells, cells, cells, cells), min_size=1, max_size=15)


def test_csv_import_random_rows(service: Any) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(rows=rows)
    def run(rows: Any) -> None:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["phone", "name", "first_name", "shoe_size", "opt_in"])
        writer.writerows(rows)
        before = counts(*service.mongo).get("contacts", 0)
        report = run_import(service, out.getvalue().encode("utf-8", "surrogatepass"))
        assert report["state"] == "done", report
        assert report["rows"] == report["inserted"] + report["updated"] + report["unchanged"] + report["failed"]
        assert counts(*service.mongo).get("contacts", 0) == before + report["inserted"]
        assert all(isinstance(e["line"], int) and e["reason"] for e in report["errors"])

    for name, data in ODD_FILES.items():
        report = run_import(service, data)
        assert report["state"] == "done", (name, report)
        assert report["rows"] >= report["inserted"], (name, report)
    huge = run_import(service, ODD_FILES["huge-field"])
    assert huge["failed"] == 1 and huge["errors"][0]["line"] >= 2, huge
    run()


ODD_FILES = {
    "empty": b"", "binary": b"\xff\xfe\x00garbage", "no-phone-column": b"name,first_name\nA,B\n",
    "huge-field": b"phone\n" + b"\"" + b"x" * 200_000 + b"\"\n+919840011111\n",
    "nul-bytes": b"phone,name\n+919840011112,\x00nul\x00\n+919840011113,ok\n",
    "unterminated-quote": b"phone,name\r\n\"+919840011114\",\"unterminated\n",
}
