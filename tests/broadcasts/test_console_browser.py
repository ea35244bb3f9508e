"""The marketer console in headless Chromium against the real services: `python -m handoff`
(accounts, login page), `python -m broadcasts` (API + console), the sandbox and the connectors'
inbound pipeline (signed webhooks -> connectors.ingest -> consumer -> parley:events), so the funnel
moves on the sandbox's real statuses and replies.

A marketer created through handoff's API logs in on handoff's login page and lands back on the
console; imports a CSV with a bad row (progress, line and reason shown); builds a segment whose
audience count follows the conditions; syncs and sees the sandbox's templates; creates a campaign,
runs its pre-flight (audience, exclusions, cost), starts it and watches the funnel reach
sent = delivered = read = replied; schedules another; a contact named like markup stays text; and
logging out ends the session for both consoles (the API answers 401)."""
from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List

import httpx
import pytest

pytest.importorskip("argon2")  # services env only

from tests.security.services import start_broadcasts, start_handoff  # noqa: E402

from .harness import Pipeline  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]
XSS = "<img src=x onerror=alert(1)>"
PUNE = ["919830000001", "919830000002"]  # opted in, in the segment: the campaign's recipients
CSV = "\n".join([
    "phone,name,first_name,city,opt_in",
    f"+{PUNE[0]},{XSS},Asha,Pune,yes",
    f"+{PUNE[1]},Ravi Kumar,Ravi,Pune,yes",
    "12345,Bad Number,Bad,Pune,yes",            # line 4: rejected
    "+919830000003,Meera Shah,Meera,Pune,no",   # in the segment, excluded: no consent
    "+919830000004,Kabir Rao,Kabir,Mumbai,yes",
]) + "\n"
VARIABLES = {"first_name": {"attr": "first_name", "default": "there"}, "discount": {"value": "20%"}}
WAIT_MS = 20_000


class InboundPipeline:
    """`harness.Pipeline` in a thread with its own event loop (the test itself is sync
    Playwright); the sandbox delivers its webhooks to it."""

    def __init__(self, redis_url: str, sandbox: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.pipeline = self._call(self._open(redis_url, sandbox))

    async def _open(self, redis_url: str, sandbox: Any) -> Pipeline:
        import redis.asyncio as aioredis
        self.redis = aioredis.from_url(redis_url)
        pipeline = Pipeline(self.redis, sandbox.app_secret, sandbox.verify_token)
        await pipeline.start()
        return pipeline

    def close(self) -> None:
        self._call(self.pipeline.stop())
        self._call(self.redis.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)


@pytest.fixture
def stack(tmp_path: Path, redis_url: str, mongo_url: str, mongo_db_name: str,
          sandbox: Any) -> Iterator[Dict[str, str]]:
    inbound = InboundPipeline(redis_url, sandbox)
    sandbox.configure(webhook_url=inbound.pipeline.url, throughput_mps=0, pair_rate=False)
    try:
        for handoff in start_handoff(tmp_path, redis_url, mongo_url, mongo_db_name, sandbox):
            port = handoff.url.rsplit(":", 1)[1]  # the login redirect's default: this host, HANDOFF_PORT
            for broadcasts in start_broadcasts(tmp_path, redis_url, mongo_url, mongo_db_name, sandbox,
                                               env={"HANDOFF_PORT": port}):
                yield {"handoff": handoff.url, "broadcasts": broadcasts.url}
    finally:
        inbound.close()


def create_marketer(handoff: str) -> Dict[str, str]:
    """Through handoff's API, as its admin would."""
    marketer = {"id": "mara", "email": "mara@example.com", "name": "Mara", "role": "marketer",
                "password": "mara-password-1"}
    with httpx.Client(base_url=handoff, timeout=30) as admin:
        login = admin.post("/api/login", json={"email": "admin@example.com", "password": "admin-password"})
        login.raise_for_status()
        created = admin.post("/api/agents", json=marketer, headers={"X-CSRF-Token": login.json()["csrf"]})
        assert created.status_code == 201, created.text
    return marketer


def facts(page: Any, selector: str) -> Dict[str, str]:
    """A <dl>'s terms and definitions."""
    return dict(page.eval_on_selector_all(
        f"{selector} dt", "dts => dts.map(dt => [dt.textContent, dt.nextElementSibling.textContent])"))


def test_marketer_console_end_to_end(stack: Dict[str, str], browser: Any, sandbox: Any) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    handoff, console = stack["handoff"], stack["broadcasts"]
    marketer = create_marketer(handoff)
    context = browser.new_context()
    page = context.new_page()
    dialogs: List[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors: List[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # Not logged in: sent to handoff's login page, and back to the console after logging in.
    page.goto(console + "/")
    page.wait_for_url(re.compile(re.escape(handoff) + r"/login\?next="))
    page.fill("#email", marketer["email"])
    page.fill("#password", marketer["password"])
    page.click("#login-button")
    page.wait_for_url(console + "/")
    session = next(c["value"] for c in context.cookies() if c["name"] == "parley_session")

    # Contact import: progress, then the bad row's line and reason; good rows imported.
    expect(page.locator("#contact-total")).to_have_text("0 contacts")
    page.set_input_files("#csv", files=[{"name": "contacts.csv", "mimeType": "text/csv",
                                         "buffer": CSV.encode()}])
    page.click("#import-form button")
    expect(page.locator("#import-progress")).to_be_visible()
    expect(page.locator("#import-status")).to_have_text(
        "5 rows: 4 new, 0 updated, 0 unchanged, 1 rejected (done)")
    expect(page.locator("#import-errors li")).to_have_text(["line 4: invalid phone '12345'"])
    assert page.eval_on_selector("#import-progress", "bar => bar.max > 1 && bar.value === bar.max")
    expect(page.locator("#contact-total")).to_have_text("4 contacts")
    expect(page.locator("#contact-rows tr")).to_have_count(4)

    # Segment builder: the live count follows the conditions.
    count = page.locator("#segment-count")
    expect(count).to_have_text("4")
    page.click("#add-condition")
    condition = page.locator("#conditions .condition").first
    condition.locator("select").first.select_option("attr:city")
    condition.locator("input").first.fill("Pune")
    expect(count).to_have_text("3")
    condition.locator("input").first.fill("Mumbai")
    expect(count).to_have_text("1")
    condition.locator("input").first.fill("Pune")
    expect(count).to_have_text("3")
    page.fill("#segment-name", "Pune")
    page.click("#save-segment")
    expect(page.locator("#segment-list li")).to_contain_text(["Pune ("])

    # Templates: synced from the sandbox's WABA.
    page.click("#sync-templates")
    spring = page.locator("#template-rows tr", has_text="spring_sale")
    expect(spring).to_contain_text("marketing")
    expect(spring).to_contain_text("APPROVED")
    expect(spring).to_contain_text("first_name, discount")

    # A campaign: draft, pre-flight, start, and the funnel as the sandbox reports statuses.
    page.fill("#campaign-form [name=name]", "Spring in Pune")
    page.select_option("#campaign-template", label="spring_sale (en, marketing)")
    page.select_option("#campaign-segment", label="Pune")
    page.fill("#campaign-form [name=variables]", json.dumps(VARIABLES))
    page.click("#campaign-form button")
    expect(page.locator("#detail-title")).to_contain_text("Spring in Pune")
    expect(page.locator("#preflight dt")).to_have_count(6)
    assert facts(page, "#preflight") == {
        "Audience": "3", "Eligible": "2", "Excluded": "no_consent × 1", "By category": "marketing × 2",
        "Estimated cost": "0.0214 USD", "Estimated duration": "0 s"}
    page.click("#start-btn")
    for step in ("sent", "delivered", "read"):
        expect(page.locator(f'#funnel [data-step="{step}"] .value')).to_have_text("2")
    for wa_id in PUNE:
        sandbox.customer_sends(wa_id, {"type": "text", "text": {"body": "Interested"}})
    expect(page.locator('#funnel [data-step="replied"] .value')).to_have_text("2")
    expect(page.locator('#funnel [data-step="failed"] .value')).to_have_text("0")
    expect(page.locator("#detail-title")).to_have_text("Spring in Pune: completed")
    expect(page.locator("#campaign-rows tr", has_text="Spring in Pune").locator(".state")).to_have_text("completed")
    sent = [m for m in sandbox.outbox() if m.get("type") == "template"]
    assert sorted(m["to"].lstrip("+") for m in sent) == PUNE

    # Another one, scheduled (no sending window unless one is given).
    page.fill("#campaign-form [name=name]", "New year")
    page.click("#campaign-form button")
    expect(page.locator("#detail-title")).to_contain_text("New year")
    page.fill("#schedule-at", "2099-01-01T09:30")
    page.fill("#schedule-tz", "Asia/Kolkata")
    page.click("#schedule-btn")
    expect(page.locator("#next-run")).to_have_text("next run 2099-01-01T09:30:00+05:30")
    expect(page.locator("#campaign-rows tr", has_text="New year").locator(".state")).to_have_text("scheduled")

    # Customer strings are text: the markup-named contact shows literally, nothing ran.
    expect(page.locator("#contact-rows")).to_contain_text(XSS)
    assert page.locator("img, script:not([src]), iframe").count() == 0
    expect(page.locator("#error")).to_be_hidden()
    assert dialogs == [] and errors == [], (dialogs, errors)

    # Logout: back on the login page; the session is gone for both services.
    page.click("#logout")
    page.wait_for_url(re.compile(re.escape(handoff) + r"/login\?next="))
    assert not [c for c in context.cookies() if c["name"] == "parley_session" and c["value"]]
    cookie = {"Cookie": f"parley_session={session}"}
    assert httpx.get(console + "/api/contacts", headers=cookie).status_code == 401
    assert httpx.get(handoff + "/api/me", headers=cookie).status_code == 401
    context.close()
