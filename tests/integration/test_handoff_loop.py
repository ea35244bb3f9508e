"""The whole handoff loop with the real bot: a virtual customer asks the Rasa bot for a human;
the ticket appears in the agent console (headless Chromium); the agent claims it; the
customer's next message shows in the agent's view and never reaches the bot; the agent's reply
reaches the virtual phone; resolve hands the chat back and the bot answers again."""
from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.handoff.server import console_login
from tests.plugins.platform import Platform, reply_text, with_services

pytestmark = [pytest.mark.browser, pytest.mark.slow]
QUEUED = "Connecting you to our team"
BACK = "You're back with the Paidal assistant"


def create_agent(platform: Platform, agent_id: str, password: str) -> str:
    """An agent account, made by the bootstrap admin through the API; returns the email."""
    email = f"{agent_id}@example.com"
    with httpx.Client(base_url=platform.handoff_url, timeout=30) as admin:
        login = admin.post("/api/login", json={"email": platform.running.admin_email,
                                               "password": platform.running.admin_password})
        assert login.status_code == 200, login.text
        created = admin.post("/api/agents", headers={"X-CSRF-Token": login.json()["csrf"]},
                             json={"id": agent_id, "email": email, "password": password})
        assert created.status_code in (201, 409), created.text
    return email


def user_messages(platform: Platform, wa_id: str) -> list:
    """The texts Rasa saw from this customer (its tracker)."""
    return [e.get("text") for e in platform.tracker(wa_id).get("events", [])
            if e.get("event") == "user"]


@with_services
def test_handoff_loop_with_the_real_bot(platform: Platform, browser: Any) -> None:
    assert platform.handoff_url, "the platform was started without the handoff service"
    email = create_agent(platform, "loop-agent", "loop-agent-password")
    page = console_login(browser, platform.handoff_url, email, "loop-agent-password")
    customer = platform.new_customer("Meera")

    # The customer asks the bot for a human; the bot queues the chat and says so.
    replies = customer.ask("talk to a human")
    assert any(QUEUED in reply_text(m) for m in replies), [reply_text(m) for m in replies]
    assert customer.ownership().get("owner") in ("queued", "assigned")

    # The ticket appears in the console without a reload; the agent claims it.
    row = f'#queue [data-ticket-id]:has-text("{customer.name}")'
    page.wait_for_selector(row, timeout=15_000)
    page.locator(row).first.locator(".claim").click()
    page.wait_for_selector("#mine [data-ticket-id]", timeout=10_000)
    page.wait_for_selector("#chat:not([hidden])", timeout=10_000)
    deadline = time.monotonic() + 10
    while customer.ownership().get("agent") != "loop-agent" and time.monotonic() < deadline:
        time.sleep(0.05)
    owner = customer.ownership()
    assert owner.get("owner") == "assigned" and owner.get("agent") == "loop-agent", owner

    # The customer's next message goes to the agent's view, not to the bot.
    before = len(customer.replies())
    started = time.monotonic()
    wamid = customer.says("Do you have the Trail Runner in size 9?")
    page.locator(f'#transcript [data-line-id="{wamid}"] .text').wait_for(timeout=10_000)
    shown_after = time.monotonic() - started
    assert page.locator(f'#transcript [data-line-id="{wamid}"] .text').inner_text() == \
        "Do you have the Trail Runner in size 9?"
    time.sleep(2.0)  # time for a (wrong) bot turn to have happened
    assert len(customer.replies()) == before, "the bot answered while a human owns the chat"
    assert "Do you have the Trail Runner in size 9?" not in user_messages(platform, customer.wa_id)
    print(f"[handoff loop] customer message shown to the agent after {shown_after * 1000:.0f} ms "
          f"(sandbox webhook -> rasa connector -> handoff inbox -> console)")

    # The agent replies from the console: it reaches the virtual phone.
    page.fill("#composer-text", "Hi Meera, yes we do. Shall I reserve a pair?")
    page.click("#send")
    platform.sandbox.wait_for_outbox(
        lambda msgs: any(reply_text(m) == "Hi Meera, yes we do. Shall I reserve a pair?"
                         for m in msgs), timeout=10, to=customer.wa_id)
    assert page.locator("#error").is_hidden()

    # Resolve: the bot owns the chat again, says so, and answers the next message.
    page.click("#resolve")
    page.wait_for_selector("#chat[hidden]", state="attached", timeout=10_000)
    assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
    deadline = time.monotonic() + 10
    while customer.ownership() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert customer.ownership() == {}
    platform.sandbox.wait_for_outbox(lambda msgs: any(BACK in reply_text(m) for m in msgs),
                                     timeout=30, to=customer.wa_id)
    answer = customer.ask("hi")
    assert answer, "the bot did not answer after the hand-back"
    assert "hi" in user_messages(platform, customer.wa_id)
    page.context.close()
