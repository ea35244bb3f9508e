"""Customer- and marketer-controlled strings rendered in headless Chromium: markup stays text.

Strings with `<img onerror>`, `"><script>`, `javascript:` and friends go in as a customer's
profile name and messages (sandbox virtual phones), as segment and campaign names (broadcasts
console). No script dialog may fire and the literal text must be visible. The handoff console's
equivalent is tests/handoff/test_console_browser.py (customer name and messages in the inbox)."""
from __future__ import annotations

from typing import Any, Iterator, List

import httpx
import pytest

pytest.importorskip("argon2")  # services env only

from .corpus import XSS, XSS_MARK  # noqa: E402
from .services import issue_token, start_broadcasts  # noqa: E402

pytestmark = pytest.mark.browser
WA = "15557770001"


def watch_dialogs(page: Any) -> List[str]:
    fired: List[str] = []

    def on_dialog(dialog: Any) -> None:
        fired.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return fired


def assert_rendered_as_text(page: Any, fired: List[str]) -> None:
    """Every XSS string is on the page as text, no markup from it became an element, nothing ran."""
    body = page.inner_text("body")
    for text in XSS:
        assert text in body, text
    assert page.locator("img[src=x], svg, iframe, script:not([src])").count() == 0
    assert not [m for m in fired if XSS_MARK in m], fired


def test_sandbox_phones_render_markup_as_text(sandbox: Any, page: Any) -> None:
    sandbox.request("POST", "/_sandbox/customers", {"wa_id": WA, "name": XSS[0]})
    for text in XSS:
        sandbox.customer_sends(WA, {"type": "text", "text": {"body": text}}, name=XSS[1])
    sandbox.send({"messaging_product": "whatsapp", "to": WA, "type": "text", "text": {"body": XSS[2]}})
    sandbox.send({"messaging_product": "whatsapp", "to": WA, "type": "interactive", "interactive": {
        "type": "button", "body": {"text": XSS[3]},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "x", "title": "<b>t</b>"}}]}}})
    fired = watch_dialogs(page)
    page.goto(sandbox.url + "/")
    page.click("#customers li")
    page.wait_for_function("(t) => document.body.innerText.includes(t)", arg=XSS[4], timeout=10_000)
    assert_rendered_as_text(page, fired)
    assert page.evaluate("() => [...document.querySelectorAll('a')].every(a => !a.href.startsWith('javascript:'))")


@pytest.fixture
def marketer_console(tmp_path: Any, redis_url: str, mongo_url: str, mongo_db_name: str, sandbox: Any) -> Iterator[Any]:
    token = issue_token(redis_url, mongo_url, mongo_db_name, "m1", "marketer")
    session, csrf = issue_token(redis_url, mongo_url, mongo_db_name, "m2", "marketer", session=True).split()
    for handle in start_broadcasts(tmp_path, redis_url, mongo_url, mongo_db_name, sandbox):
        with httpx.Client(base_url=handle.url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
            yield handle, http, session, csrf


def test_broadcasts_console_renders_markup_as_text(marketer_console: Any, browser: Any) -> None:
    handle, http, session, csrf = marketer_console
    assert http.post("/api/templates/sync").status_code < 300
    segments = [http.post("/api/segments", json={"name": name, "filter": {}}) for name in XSS]
    assert all(r.status_code in (200, 201) for r in segments), [r.text for r in segments]
    templates = http.get("/api/templates").json()["templates"]
    hello = next(t for t in templates if t["name"] == "hello_world")
    campaign = http.post("/api/campaigns", json={"name": XSS[1] + " " + XSS[2], "template_id": hello["_id"],
                                                 "segment": {"filter": {}}})
    assert campaign.status_code in (200, 201), campaign.text
    context = browser.new_context()
    context.add_cookies([{"name": "parley_session", "value": session, "url": handle.url},
                         {"name": "parley_csrf", "value": csrf, "url": handle.url}])
    page = context.new_page()
    fired = watch_dialogs(page)
    page.goto(handle.url + "/")
    page.wait_for_function("(t) => document.body.innerText.includes(t)", arg=XSS[4], timeout=15_000)
    page.wait_for_function("(t) => document.body.innerText.includes(t)", arg=XSS[2], timeout=15_000)
    assert_rendered_as_text(page, fired)
    context.close()
