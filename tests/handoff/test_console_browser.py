"""Acceptance test of the console in headless Chromium, against `python -m handoff` and the
sandbox, with the connector's real routing in front of a stand-in bot: two agents see a bot
handoff appear live and race to claim it; the other agent gets 403 on the chat; the customer's
next message shows in the owner's view within a second (as text) and never reaches the bot;
the owner replies, then (window closed) can only send a template, which is delivered; after
resolve the bot answers the customer's next message."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
import redis

from connectors import keys as shared_keys
from connectors.events import Event
from devstack import free_port, wait_for_port
from tests.handoff.connector import RoutedCustomers
from tests.handoff.server import console_login
from tests.plugins.browser import CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
WA = "15550004444"
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def service(redis_url: str, mongo_url: str, mongo_db_name: str, sandbox: Any,
            tmp_path: Path) -> Iterator[Dict[str, Any]]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HANDOFF_PORT": str(port),
           "HANDOFF_SECRET_KEY": "browser-test-secret-key", "REDIS_URL": redis_url,
           "MONGODB_URL": mongo_url, "MONGODB_DB": mongo_db_name, "GRAPH_BASE_URL": sandbox.url,
           "GRAPH_VERSION": sandbox.api_version, "WHATSAPP_ACCESS_TOKEN": sandbox.access_token,
           "WHATSAPP_PHONE_NUMBER_ID": sandbox.phone_number_id, "WHATSAPP_WABA_ID": sandbox.waba_id,
           "HANDOFF_BOT_RESUME": "off", "HANDOFF_ADMIN_EMAIL": "admin@example.com",
           "HANDOFF_ADMIN_PASSWORD": "admin-password", "HANDOFF_ARGON2_MEMORY_KIB": "1024",
           "HANDOFF_ARGON2_TIME_COST": "1", "HANDOFF_LOG_LEVEL": "WARNING"}
    for name in ("alice", "bob"):  # the CLI, as an operator would
        subprocess.run([sys.executable, "-m", "handoff", "create-agent", "--id", name,
                        "--email", f"{name}@example.com", "--name", name.title()],
                       env={**env, "HANDOFF_NEW_PASSWORD": f"{name}-password"}, cwd=ROOT,
                       check=True, capture_output=True, timeout=60)
    log = open(tmp_path / "handoff.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "handoff"], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, timeout=60, process=process)
        yield {"url": f"http://127.0.0.1:{port}", "redis": redis.Redis.from_url(redis_url)}
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium for this test only. (The session-wide `browser` fixture keeps
    sync Playwright's event loop running, which breaks every asyncio test after it.)"""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("Debian's chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def login(browser: Any, url: str, name: str) -> Any:
    return console_login(browser, url, f"{name}@example.com", f"{name}-password")


@pytest.fixture
def customers(redis_url: str, sandbox: Any, webhook_receiver: Any) -> Iterator[RoutedCustomers]:
    routed = RoutedCustomers(redis_url, sandbox, webhook_receiver)
    yield routed
    routed.close()


def test_two_agents_claim_reply_resolve(chromium: Any, service: Dict[str, Any], sandbox: Any,
                                        customers: RoutedCustomers) -> None:
    url, r = service["url"], service["redis"]
    alice, bob = login(chromium, url, "alice"), login(chromium, url, "bob")
    customers.says(WA, "hi")  # the bot owns the chat: the message reaches the bot
    assert [m.text for m in customers.bot_inputs] == ["hi"]

    event = Event("handoff.requested", "req-browser", {
        "wa_id": WA, "name": "Frank", "reason": "asked",
        "context": {"last_intent": "human_handoff", "slots": {"order_id": "B-42"}, "turns": []}})
    r.xadd(shared_keys.EVENTS_STREAM, event.to_fields())
    row = "#queue [data-ticket-id]"
    for page in (alice, bob):  # appears without a reload
        page.wait_for_selector(row, timeout=10_000)
        assert page.locator(row).first.locator(".name").inner_text() == "Frank"

    # Both click claim at (nearly) the same moment: exactly one owns the chat.
    click = "() => { const b = document.querySelector('#queue [data-ticket-id] .claim');" \
            " if (b) { b.click(); return true; } return false; }"
    clicked = [alice.evaluate(click), bob.evaluate(click)]
    assert clicked[0], "the first click always finds the row"
    deadline = time.monotonic() + 10
    while not r.hget(shared_keys.ownership(WA), "agent") and time.monotonic() < deadline:
        time.sleep(0.05)
    owner_id = r.hget(shared_keys.ownership(WA), "agent").decode()
    owner, other = (alice, bob) if owner_id == "alice" else (bob, alice)
    owner.wait_for_selector("#mine [data-ticket-id]", timeout=10_000)
    other.wait_for_function("document.querySelectorAll('#queue [data-ticket-id]').length === 0",
                            timeout=10_000)
    assert other.locator("#mine [data-ticket-id]").count() == 0
    if clicked[1] and owner is alice:  # Bob clicked and lost: he is told, not left guessing
        bob.wait_for_selector("#error:not([hidden])", timeout=5_000)
    owner.wait_for_selector("#chat:not([hidden])", timeout=10_000)
    assert "B-42" in owner.locator("#context-list").inner_text()
    ticket_id = owner.locator("#mine [data-ticket-id]").first.get_attribute("data-ticket-id")
    fetch = "(id) => fetch('/api/tickets/' + id).then((r) => r.status)"
    assert other.evaluate(fetch, ticket_id) == 403, "the other agent cannot read the chat"
    assert owner.evaluate(fetch, ticket_id) == 200

    # The customer writes: routed to the owner's view within a second, never to the bot.
    started = time.monotonic()
    wamid = customers.says(WA, XSS)
    line = owner.locator(f'#transcript [data-line-id="{wamid}"] .text')
    line.wait_for(timeout=5_000)
    assert time.monotonic() - started < 1.0, "shown in the owner's view within a second"
    assert line.inner_text() == XSS, "customer text renders as text"
    assert owner.locator("#transcript img").count() == 0
    assert [m.text for m in customers.bot_inputs] == ["hi"], "nothing reached the bot"
    assert customers.bot_replies(WA) == ["bot: hi"]

    # Reply from the composer: it reaches the virtual phone.
    owner.wait_for_selector("#composer:not([hidden])", timeout=5_000)
    assert owner.locator("#template-form").is_hidden()
    owner.fill("#composer-text", "Hello Frank, how can I help?")
    owner.click("#send")
    sandbox.wait_for_outbox(lambda msgs: any(m["type"] == "text" and m["payload"]["text"]["body"]
                                             == "Hello Frank, how can I help?" for m in msgs),
                            timeout=10, to=WA)
    assert owner.locator("#error").is_hidden()

    # The 24-hour window closes: the composer offers templates only, and one is delivered.
    r.delete(shared_keys.window(sandbox.phone_number_id, WA))
    owner.click(f'#mine [data-ticket-id="{ticket_id}"]')
    owner.wait_for_selector("#template-form:not([hidden])", timeout=5_000)
    assert owner.locator("#composer").is_hidden(), "no free text outside the window"
    assert owner.locator("#window").inner_text() == "window closed"
    owner.select_option("#template", label="order_update (en)")
    for index, value in enumerate(["Frank", "B-42", "shipped"]):
        owner.locator("#template-vars input").nth(index).fill(value)
    owner.click("#send-template")
    sent = sandbox.wait_for_outbox(lambda msgs: any(m["type"] == "template" for m in msgs),
                                   timeout=10, to=WA)
    [template] = [m for m in sent if m["type"] == "template"]
    assert template["payload"]["template"]["name"] == "order_update"
    assert owner.locator("#error").is_hidden()

    # Resolve: the bot owns the chat again and answers the customer's next message.
    owner.click("#resolve")
    deadline = time.monotonic() + 10
    while r.exists(shared_keys.ownership(WA)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not r.exists(shared_keys.ownership(WA))
    owner.wait_for_selector("#chat[hidden]", state="attached", timeout=5_000)
    customers.says(WA, "thanks, bye")
    assert [m.text for m in customers.bot_inputs] == ["hi", "thanks, bye"]
    assert customers.bot_replies(WA) == ["bot: hi", "bot: thanks, bye"]
    for page in (alice, bob):
        page.context.close()
