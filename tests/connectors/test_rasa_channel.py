"""The Rasa channel over a real socket: handshake, POST checks, consumer -> UserMessage, replies.

Bot env only (imports rasa's channel module, not the agent: no TensorFlow). A tiny fake Graph
API records the replies; the full sandbox round trip lives in test_rasa_channel_e2e.py.
"""
from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from typing import Any, AsyncIterator, Dict, List, Optional

import pytest

pytest.importorskip("rasa")

import aiohttp  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from aiohttp import web  # noqa: E402
from rasa.core.channels.channel import UserMessage  # noqa: E402
from sanic import Sanic  # noqa: E402

from connectors import keys  # noqa: E402
from connectors.ingest import MAX_BODY_BYTES  # noqa: E402
from connectors.ownership import Owner, Ownership  # noqa: E402
from connectors.rasa_channel import WhatsAppInput, WhatsAppOutput  # noqa: E402
from connectors.signature import sign  # noqa: E402
from connectors.window import refresh_window  # noqa: E402

from .inbound_support import SECRET, fixture_bytes  # noqa: E402

Sanic.test_mode = True  # several apps in one process: Sanic 21.12's touchup must keep originals
PNID = "100000000000001"
CUSTOMER = "16505551234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeGraph:
    """Records message POSTs; answers like the Cloud API."""

    def __init__(self) -> None:
        self.bodies: List[Dict[str, Any]] = []
        self.port = free_port()

    async def messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        if "status" in body:
            return web.json_response({"success": True})
        return web.json_response({"messaging_product": "whatsapp", "contacts": [{"wa_id": body["to"]}],
                                  "messages": [{"id": f"wamid.OUT{len(self.bodies)}"}]})

    def sent(self) -> List[Dict[str, Any]]:
        return [b for b in self.bodies if "status" not in b]


class FakeAgent:
    def __init__(self) -> None:
        self.ready = True

    def is_ready(self) -> bool:
        return self.ready


class Harness:
    def __init__(self, url: str, received: List[UserMessage], channel: WhatsAppInput, graph: FakeGraph) -> None:
        self.url, self.received, self.channel, self.graph = url, received, channel, graph

    async def post(self, body: bytes, signature: Optional[str] = "sign", **headers: str) -> int:
        if signature == "sign":
            signature = sign(SECRET, body)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with aiohttp.ClientSession() as session:
            async with session.post(self.url + "/webhooks/whatsapp/webhook", data=body, headers=headers) as resp:
                await resp.read()
                return resp.status

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} messages"
            await asyncio.sleep(0.02)


def credentials(redis_url: str, graph_port: int, **extra: Any) -> Dict[str, Any]:
    return {"verify_token": "vt", "app_secret": SECRET, "access_token": "tok", "phone_number_id": PNID,
            "redis_url": redis_url, "graph_base_url": f"http://127.0.0.1:{graph_port}", "graph_version": "v23.0",
            "reengage_template": "reengage", "reengage_language": "en", **extra}


@pytest.fixture
async def harness(redis_url: str) -> AsyncIterator[Harness]:
    graph = FakeGraph()
    gapp = web.Application()
    gapp.router.add_post(f"/v23.0/{PNID}/messages", graph.messages)
    runner = web.AppRunner(gapp)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", graph.port).start()

    received: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    channel = WhatsAppInput.from_credentials(credentials(redis_url, graph.port))
    app = Sanic(f"test_{uuid.uuid4().hex[:8]}")
    app.ctx.agent = FakeAgent()
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/whatsapp")
    port = free_port()
    server = await app.create_server("127.0.0.1", port, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.after_start()
    try:
        yield Harness(f"http://127.0.0.1:{port}", received, channel, graph)
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        await runner.cleanup()


async def test_handshake(harness: Harness) -> None:
    async with aiohttp.ClientSession() as session:
        url = harness.url + "/webhooks/whatsapp/webhook"
        async with session.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "vt",
                                            "hub.challenge": "1158201444"}) as resp:
            assert (resp.status, await resp.text()) == (200, "1158201444")
            assert resp.headers["Content-Type"].startswith("text/plain")
        async with session.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "no",
                                            "hub.challenge": "1"}) as resp:
            assert resp.status == 403


async def test_post_checks_and_nothing_enqueued_on_rejection(harness: Harness, redis_url: str) -> None:
    body = fixture_bytes("text")
    assert await harness.post(body, signature=None) == 401
    assert await harness.post(body, signature=sign("wrong", body)) == 403
    assert await harness.post(b"{" + b" " * MAX_BODY_BYTES + b"}") == 413
    assert await harness.post(b"{not json") == 400
    redis = aioredis.Redis.from_url(redis_url)
    assert await redis.xlen(keys.INBOUND_STREAM) == 0
    await redis.close()
    await asyncio.sleep(0.2)
    assert harness.received == []


async def test_a_message_becomes_one_user_message(harness: Harness) -> None:
    for _ in range(5):
        assert await harness.post(fixture_bytes("text_unicode")) == 200
    await harness.wait_for(1)
    await asyncio.sleep(0.3)
    (msg,) = harness.received
    assert (msg.text, msg.sender_id, msg.message_id, msg.input_channel) == (
        "äöå café 😮 @home https://x.y/z", CUSTOMER, "wamid.UNI1", "whatsapp")
    assert msg.metadata["name"] == "Zoë Ünal" and msg.metadata["phone_number_id"] == PNID
    assert isinstance(msg.output_channel, WhatsAppOutput)
    # Mark-read with the typing indicator went out beside it.
    await asyncio.sleep(0.2)
    assert {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.UNI1",
            "typing_indicator": {"type": "text"}} in harness.graph.bodies


async def test_slash_text_and_button_payload(harness: Harness) -> None:
    assert await harness.post(fixture_bytes("text_slash")) == 200
    assert await harness.post(fixture_bytes("interactive_button_reply")) == 200
    await harness.wait_for(2)
    assert [m.text for m in harness.received] == ["restart", "/affirm"]


async def test_owned_by_an_agent_never_reaches_rasa(harness: Harness, redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    await redis.hset(keys.ownership(CUSTOMER), mapping=Ownership(Owner.ASSIGNED, "a1").to_hash())
    assert await harness.post(fixture_bytes("text")) == 200
    for _ in range(100):
        if await redis.xlen(keys.HANDOFF_INBOX_STREAM):
            break
        await asyncio.sleep(0.02)
    assert await redis.xlen(keys.HANDOFF_INBOX_STREAM) == 1
    await redis.close()
    assert harness.received == []


async def test_replies_render_and_go_through_the_sender(harness: Harness, redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    await refresh_window(redis, PNID, CUSTOMER, time.time())
    out = harness.channel.get_output_channel()
    assert isinstance(out, WhatsAppOutput)
    await out.send_response(CUSTOMER, {"text": "Hello!"})
    await out.send_response(CUSTOMER, {"text": "Pick one", "buttons": [
        {"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]})
    await out.send_text_message(CUSTOMER, "plain")
    sent = harness.graph.sent()
    assert sent[0]["to"] == "+" + CUSTOMER and sent[0]["text"]["body"] == "Hello!"
    assert sent[1]["type"] == "interactive"
    assert [b["reply"]["id"] for b in sent[1]["interactive"]["action"]["buttons"]] == ["/affirm", "/deny"]
    assert sent[2]["text"]["body"] == "plain"
    # Window closed: the re-engagement template goes out instead, once.
    await redis.delete(keys.window(PNID, CUSTOMER))
    await out.send_response(CUSTOMER, {"text": "Are you there?"})
    await out.send_response(CUSTOMER, {"text": "Hello?"})
    later = harness.graph.sent()[3:]
    assert [b["type"] for b in later] == ["template"] and later[0]["template"]["name"] == "reengage"
    failed = [f for _, f in await redis.xrange(keys.EVENTS_STREAM) if f[b"type"] == b"message.failed"]
    assert failed, "the refused second reply is recorded, not silently dropped"
    await redis.close()


async def test_redis_down_answers_503(redis_url: str) -> None:
    channel = WhatsAppInput.from_credentials(credentials("redis://127.0.0.1:1/0", free_port()))
    app = Sanic(f"test_{uuid.uuid4().hex[:8]}")
    app.ctx.agent = FakeAgent()

    async def ignore(_: UserMessage) -> None:
        raise AssertionError("nothing can be consumed")

    app.blueprint(channel.blueprint(ignore), url_prefix="/webhooks/whatsapp")
    port = free_port()
    server = await app.create_server("127.0.0.1", port, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.after_start()
    try:
        body = fixture_bytes("text")
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/webhooks/whatsapp/webhook", data=body,
                                    headers={"X-Hub-Signature-256": sign(SECRET, body)}) as resp:
                assert resp.status == 503
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


def test_missing_credentials_fail_clearly() -> None:
    with pytest.raises(ValueError, match="app_secret"):
        WhatsAppInput.from_credentials({"verify_token": "x", "access_token": "a", "phone_number_id": "1",
                                        "redis_url": "redis://127.0.0.1:6379/0"})
