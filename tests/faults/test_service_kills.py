"""SIGKILL of the handoff service and of the broadcasts process (API + scheduler + send workers)
in the middle of their work, then a restart: the work resumes, nothing is done twice."""
from __future__ import annotations

import secrets
import signal
import time
from collections import Counter
from typing import Any, Dict, List

import httpx
import pytest

from tests.faults.conftest import FaultPlatform
from tests.faults.test_store_outages import mongo_docs
from tests.plugins.platform import reply_text

pytestmark = pytest.mark.slow
QUEUED = "Connecting you to our team"


def test_handoff_sigkill_while_tickets_are_being_opened(platform: FaultPlatform) -> None:
    customers = [platform.new_customer(f"HandoffKill {i}") for i in range(12)]
    started = time.monotonic()
    for n, customer in enumerate(customers):
        customer.says("talk to a human")
        if n == 5:
            platform.kill("handoff", signal.SIGKILL)
    time.sleep(1.0)
    platform.restart("handoff", timeout=60)
    down_s = time.monotonic() - started

    deadline, counts = time.monotonic() + 45, {}
    while time.monotonic() < deadline:
        counts = {c.wa_id: len(mongo_docs(platform, "handoff_tickets", {"wa_id": c.wa_id})) for c in customers}
        if all(n >= 1 for n in counts.values()):
            break
        time.sleep(1.0)
    time.sleep(1.0)
    counts = {c.wa_id: len(mongo_docs(platform, "handoff_tickets", {"wa_id": c.wa_id})) for c in customers}
    told = {c.wa_id: sum(QUEUED in reply_text(m) for m in c.replies()) for c in customers}
    print(f"[faults] handoff SIGKILL (~{down_s:.1f} s down): tickets per customer {Counter(counts.values())}, "
          f"'connecting you' per customer {Counter(told.values())}")
    assert set(counts.values()) == {1}, counts
    assert set(told.values()) == {1}, told
    assert all(c.ownership().get("owner") in ("queued", "assigned") for c in customers)
    # The restarted service keeps opening tickets.
    late = platform.new_customer("HandoffKill late")
    assert any(QUEUED in reply_text(m) for m in late.ask("talk to a human"))
    deadline = time.monotonic() + 20
    while not mongo_docs(platform, "handoff_tickets", {"wa_id": late.wa_id}) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(mongo_docs(platform, "handoff_tickets", {"wa_id": late.wa_id})) == 1


def broadcasts_api(platform: FaultPlatform) -> httpx.Client:
    """A client of the broadcasts API with the bootstrap admin's console session: logged in on
    handoff (one login for both consoles; cookies are per host), CSRF token on every call."""
    with httpx.Client(base_url=platform.handoff_url, timeout=30) as handoff:
        login = handoff.post("/api/login", json={"email": platform.running.admin_email,
                                                 "password": platform.running.admin_password})
        assert login.status_code == 200, login.text
        cookies = httpx.Cookies(handoff.cookies)
    return httpx.Client(base_url=platform.broadcasts_url, timeout=30, cookies=cookies,
                        headers={"X-CSRF-Token": login.json()["csrf"]})


def _campaign_recipients(n: int) -> List[str]:
    prefix = f"9197{secrets.randbelow(10**4):04d}"
    return [f"{prefix}{i:04d}" for i in range(n)]


def test_broadcasts_sigkill_mid_campaign_sends_each_recipient_once(platform: FaultPlatform) -> None:
    assert platform.broadcasts_url, "broadcasts was not started"
    tag = f"faults{secrets.token_hex(3)}"
    recipients = _campaign_recipients(60)
    csv = "phone,name,first_name,opt_in,tags\n" + "".join(
        f"+{w},P{i},F{i},yes,{tag}\n" for i, w in enumerate(recipients))
    with broadcasts_api(platform) as api:
        job = api.post("/api/contacts/import", content=csv.encode(),
                       headers={"Content-Type": "text/csv"})
        assert job.status_code == 202, job.text
        deadline = time.monotonic() + 30
        while api.get(f"/api/imports/{job.json()['job']}").json().get("state") != "done":
            assert time.monotonic() < deadline, api.get(f"/api/imports/{job.json()['job']}").text
            time.sleep(0.3)
        assert api.post("/api/templates/sync").status_code == 200  # a fresh database: sync first
        templates = api.get("/api/templates").json()["templates"]
        template = next(t["_id"] for t in templates if t["name"] == "spring_sale")
        created = api.post("/api/campaigns", json={
            "name": f"fault {tag}", "template_id": template, "rate": 15,
            "variables": {"first_name": {"attr": "first_name", "default": "there"},
                          "discount": {"value": "20%"}},
            "segment": {"filter": {"tags": "any", "values": [tag]}}})
        assert created.status_code == 201, created.text
        cid = created.json()["_id"]
        assert api.post(f"/api/campaigns/{cid}/start").status_code == 200

    def sent() -> Counter:
        return Counter(m["to"].lstrip("+") for m in platform.sandbox.outbox()
                       if m["to"].lstrip("+") in set(recipients) and m.get("type") == "template")

    deadline = time.monotonic() + 30
    while sum(sent().values()) < 15:
        assert time.monotonic() < deadline, f"the campaign did not start sending: {sent()}"
        time.sleep(0.2)
    platform.kill("broadcasts", signal.SIGKILL)
    at_kill = sum(sent().values())
    platform.restart("broadcasts", timeout=60)

    state: Dict[str, Any] = {}
    deadline = time.monotonic() + 75
    with broadcasts_api(platform) as api:
        while time.monotonic() < deadline:
            state = api.get(f"/api/campaigns/{cid}").json()
            if state.get("state") == "completed":
                break
            time.sleep(1.0)
    time.sleep(1.0)
    counts = sent()
    print(f"[faults] broadcasts SIGKILL after {at_kill}/{len(recipients)} sends: campaign {state.get('state')}, "
          f"{len(counts)} recipients reached, per recipient {Counter(counts.values())}")
    assert state.get("state") == "completed", state
    assert set(counts) == set(recipients), f"missing: {sorted(set(recipients) - set(counts))[:10]}"
    assert [w for w, n in counts.items() if n != 1] == []
