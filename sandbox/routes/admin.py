"""The sandbox's own API under ``/_sandbox`` (docs/contracts.md): reset, config, inspection,
virtual customers, template status."""
from __future__ import annotations

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from .. import inbound, render, template_admin
from ..errors import AdminError
from .common import admin_json, query, respond, sandbox_of


def register(app: Sanic) -> None:
    @app.get("/_sandbox/health", name="admin_health")
    async def health(request: Request) -> HTTPResponse:
        sandbox = sandbox_of(request)
        return respond({"ok": True, "pending_webhooks": sandbox.webhooks.pending, "timers": len(sandbox.timers)})

    @app.post("/_sandbox/reset", name="admin_reset")
    async def reset(request: Request) -> HTTPResponse:
        sandbox_of(request).reset()
        return respond({"ok": True})

    @app.get("/_sandbox/config", name="admin_config")
    async def get_config(request: Request) -> HTTPResponse:
        sandbox = sandbox_of(request)
        settings = sandbox.settings
        body = sandbox.config.to_dict()
        body.update({
            "phone_number_id": settings.phone_number_id, "display_phone_number": settings.display_phone_number,
            "waba_id": settings.waba_id, "api_version": settings.api_version,
            "handshakes": [result.to_dict() for result in sandbox.handshakes],
        })
        return respond(body)

    @app.patch("/_sandbox/config", name="admin_patch_config")
    async def patch_config(request: Request) -> HTTPResponse:
        sandbox = sandbox_of(request)
        before = (sandbox.config.webhook_url, sandbox.config.verify_token)
        changed = sandbox.config.apply_patch(admin_json(request))
        after = (sandbox.config.webhook_url, sandbox.config.verify_token)
        if ("webhook_url" in changed or "verify_token" in changed) and after != before:
            sandbox.start_handshake()
        return respond({"ok": True, "changed": changed, "config": sandbox.config.to_dict()})

    @app.get("/_sandbox/outbox", name="admin_outbox")
    async def outbox(request: Request) -> HTTPResponse:
        to = query(request).get("to")
        messages = sandbox_of(request).store.outbound_list(to.lstrip("+") if to else None)
        return respond({"messages": [message.to_dict() for message in messages]})

    @app.get("/_sandbox/webhooks", name="admin_webhooks")
    async def webhooks(request: Request) -> HTTPResponse:
        deliveries = list(sandbox_of(request).webhooks.deliveries)
        return respond({"deliveries": [delivery.to_dict() for delivery in deliveries]})

    @app.get("/_sandbox/customers", name="admin_customers")
    async def customers(request: Request) -> HTTPResponse:
        sandbox = sandbox_of(request)
        now = sandbox.now()
        phone = sandbox.settings.phone_number_id
        listed = [
            {"wa_id": c.wa_id, "name": c.name, "messages": len(c.conversation),
             "window_open": sandbox.windows.is_open(phone, c.wa_id, now, sandbox.config.window_seconds),
             "last_inbound_at": sandbox.windows.last_inbound(phone, c.wa_id)}
            for c in sandbox.store.customers.values()
        ]
        return respond({"customers": listed, "version": sandbox.store.version})

    @app.post("/_sandbox/customers", name="admin_create_customer")
    async def create_customer(request: Request) -> HTTPResponse:
        sandbox = sandbox_of(request)
        body = admin_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("wa_id"), str):
            raise AdminError("body must be {\"wa_id\": \"<digits>\", \"name\": \"<optional>\"}")
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 256):
            raise AdminError("name must be a string of at most 256 characters")
        customer = sandbox.store.customer(inbound.check_wa_id(body["wa_id"]), sandbox.now(), name or None)
        return respond({"wa_id": customer.wa_id, "name": customer.name}, 201)

    @app.get("/_sandbox/customers/<wa_id>/conversation", name="admin_conversation")
    async def conversation(request: Request, wa_id: str) -> HTTPResponse:
        sandbox = sandbox_of(request)
        customer = sandbox.store.customers.get(inbound.check_wa_id(wa_id))
        if customer is None:
            raise AdminError(f"no customer {wa_id}", 404)
        is_open = sandbox.windows.is_open(sandbox.settings.phone_number_id, customer.wa_id, sandbox.now(),
                                          sandbox.config.window_seconds)
        return respond(render.conversation(customer, is_open, sandbox.store.version))

    @app.post("/_sandbox/customers/<wa_id>/messages", name="admin_customer_sends")
    async def customer_sends(request: Request, wa_id: str) -> HTTPResponse:
        message = inbound.inject_message(sandbox_of(request), wa_id, admin_json(request))
        return respond({"wamid": message.wamid, "message": message.message})

    @app.post("/_sandbox/customers/<wa_id>/preferences", name="admin_preferences")
    async def preferences(request: Request, wa_id: str) -> HTTPResponse:
        notification = inbound.inject_preferences(sandbox_of(request), wa_id, admin_json(request))
        return respond({"ok": True, "value": notification.value})

    @app.post("/_sandbox/templates/<template_id>/status", name="admin_template_status")
    async def template_status(request: Request, template_id: str) -> HTTPResponse:
        return respond(template_admin.set_status(sandbox_of(request), template_id, admin_json(request)))
