"""Helpers shared by the inbound connector tests (fixture bodies, signing, Redis clients)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from connectors import keys
from connectors.events import Event

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
SECRET = "test-secret"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture(name: str) -> Dict[str, Any]:
    return json.loads(fixture_bytes(name))


def text_body(wa_id: str, wamid: str, text: str, ts: int = 1749416383, name: str = "Cust") -> bytes:
    doc = {"object": "whatsapp_business_account", "entry": [{"id": "200000000000001", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000001", "phone_number_id": "100000000000001"},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": str(ts), "type": "text", "text": {"body": text}}],
        }}]}]}
    return json.dumps(doc, separators=(",", ":")).encode()


async def events_of(redis: Any, stream: str = keys.EVENTS_STREAM) -> List[Event]:
    return [Event.from_fields(fields) for _, fields in await redis.xrange(stream)]


class Recorder:
    """An injected bot handler that records what would have reached Rasa."""

    def __init__(self, fail_times: int = 0) -> None:
        self.inputs: list = []
        self.fail_times = fail_times
        self.calls = 0

    async def __call__(self, bot_input: Any) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise RuntimeError("bot unavailable")
        self.inputs.append(bot_input)

    @property
    def texts(self) -> List[str]:
        return [i.text for i in self.inputs]
