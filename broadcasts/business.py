"""What the business's own systems tell us, and what a contact may ask of us.

``ingest_event``: a signup, an order placed...: upsert the contact and its attributes, and
optionally send a transactional (utility) template, once per event id.
``export_contact`` / ``erase_contact``: one contact's data on request (access and erasure).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Mapping

from pymongo.errors import DuplicateKeyError

from .consent import Action, Source
from .errors import InvalidInput, TemplateNotSendable
from .templates import build_payload, ensure_sendable, resolve


async def ingest_event(ctx: Any, event: Mapping[str, Any]) -> Dict[str, Any]:
    """``{"id", "type", "phone", "name"?, "attributes"?, "tags"?, "opt_in"?: [categories],
    "template"?: {"id", "variables"}}`` -> ``{"contact", "wamid"?, "duplicate"}``."""
    event_id = str(event.get("id") or "")
    if not event_id or not event.get("type"):
        raise InvalidInput("a business event needs 'id' and 'type'")
    # Everything that can be checked is checked before the first write: a rejected event must
    # leave nothing behind (and its retry must not be taken for a duplicate).
    categories = event.get("opt_in") or []
    if not isinstance(categories, list) or any(c not in ("marketing", "utility") for c in categories):
        raise InvalidInput("opt_in must be a list of 'marketing' and/or 'utility'")
    spec = event.get("template")
    if spec and (not isinstance(spec, Mapping) or not isinstance(spec.get("variables") or {}, Mapping)):
        raise InvalidInput("template must be an object {id, variables: {...}}")
    template = None
    if spec:
        template = await ctx.templates.get(str(spec.get("id") or spec.get("name") or ""))
        ensure_sendable(template)
        if template.get("category") != "utility":
            raise TemplateNotSendable("business events send utility (transactional) templates only")
    contact_in = await ctx.contacts.parse(str(event.get("phone", "")), event.get("name"),
                                          event.get("attributes") or {}, event.get("tags") or [])
    record = {"_id": event_id, "type": str(event["type"]), "wa_id": contact_in.wa_id, "at": datetime.now(timezone.utc)}
    try:
        await ctx.db["business_events"].insert_one(record)
    except DuplicateKeyError:
        previous = await ctx.db["business_events"].find_one({"_id": event_id})
        return {"contact": contact_in.wa_id, "wamid": previous.get("wamid"), "duplicate": True}
    try:
        return await _apply_event(ctx, event, event_id, contact_in, categories, spec, template)
    except BaseException:
        # Not processed after all (missing variables, a send error...): forget the id so the
        # caller's retry is processed instead of answered "duplicate".
        await ctx.db["business_events"].delete_one({"_id": event_id, "wamid": {"$exists": False}})
        raise


async def _apply_event(ctx: Any, event: Mapping[str, Any], event_id: str, contact_in: Any, categories: Any,
                       spec: Any, template: Any) -> Dict[str, Any]:
    contact = await ctx.contacts.upsert(contact_in)
    for category in categories:
        await ctx.ledger.record(contact_in.wa_id, category, Action.OPT_IN, Source.API, ref=f"event:{event_id}")
    out: Dict[str, Any] = {"contact": contact_in.wa_id, "duplicate": False}
    if spec:
        values = resolve(spec.get("variables") or {}, template.get("variables") or [], contact)
        from connectors.sender import Purpose
        result = await ctx.sender.send(contact["phone"], build_payload(template, values), purpose=Purpose.TRANSACTIONAL,
                                       category="utility", by=f"event:{event['type']}", callback_data=f"event:{event_id}")
        out["wamid"] = result.wamid
        await ctx.db["business_events"].update_one({"_id": event_id}, {"$set": {"wamid": result.wamid}})
    return out


async def export_contact(ctx: Any, wa_id: str) -> Dict[str, Any]:
    """Everything Parley's broadcasts keep about one contact."""
    contact = await ctx.contacts.get(wa_id)
    ledger = [{k: v for k, v in d.items() if k != "_id"} async for d in ctx.ledger.col.find({"wa_id": wa_id})]
    messages = [d async for d in ctx.recipients.col.find({"wa_id": wa_id}, {"values": 1, "state": 1, "campaign_id": 1,
                                                                              "sent_at": 1, "reply": 1, "error": 1})]
    events = [d async for d in ctx.db["business_events"].find({"wa_id": wa_id})]
    return {"contact": contact, "consent_ledger": ledger, "campaign_messages": messages, "business_events": events}


async def erase_contact(ctx: Any, wa_id: str) -> Dict[str, int]:
    """Delete the contact, its ledger, its campaign records, events and CRM webhook deliveries. A marketing opt-out
    stays in Redis as a bare suppression entry (the number only) so it is never messaged again."""
    await ctx.contacts.get(wa_id)
    counts = {
        "contacts": int(await ctx.contacts.delete(wa_id)),
        "consent_ledger": (await ctx.ledger.col.delete_many({"wa_id": wa_id})).deleted_count,
        "campaign_messages": (await ctx.recipients.col.delete_many({"wa_id": wa_id})).deleted_count,
        "business_events": (await ctx.db["business_events"].delete_many({"wa_id": wa_id})).deleted_count,
        "crm_deliveries": await ctx.webhooks.outbox.forget(wa_id),
    }
    return counts
