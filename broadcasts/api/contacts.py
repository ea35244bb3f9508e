"""Routes: attribute schema, contacts, CSV import, consent, business events, export/erase."""
from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from datetime import datetime, timezone

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from ..business import erase_contact, export_contact, ingest_event
from ..consent import Action, Source
from ..errors import InvalidInput, NotFound
from ..importer import ContactImporter
from ..schema import Schema
from .common import bc, body, out

bp = Blueprint("contacts", url_prefix="/api")


@bp.get("/schema")
async def get_schema(request: Request) -> HTTPResponse:
    return out({"attributes": (await bc(request).contacts.schema()).to_list()})


@bp.put("/schema")
async def put_schema(request: Request) -> HTTPResponse:
    schema = Schema.from_list(body(request).get("attributes") or [])
    await bc(request).contacts.set_schema(schema)
    return out({"attributes": schema.to_list()})


@bp.get("/contacts")
async def list_contacts(request: Request) -> HTTPResponse:
    ctx = bc(request)
    limit = min(int(request.args.get("limit", 50)), 500)
    skip = int(request.args.get("skip", 0))
    return out({"contacts": await ctx.contacts.find({}, limit, skip),
                "total": await ctx.contacts.col.estimated_document_count()})


@bp.post("/contacts")
async def upsert_contact(request: Request) -> HTTPResponse:
    ctx, data = bc(request), body(request)
    contact = await ctx.contacts.parse(str(data.get("phone", "")), data.get("name"), data.get("attributes") or {},
                                       data.get("tags") or [])
    doc = await ctx.contacts.upsert(contact)
    return out(doc, 201)


@bp.get("/contacts/<phone>")
async def get_contact(request: Request, phone: str) -> HTTPResponse:
    ctx = bc(request)
    return out(await ctx.contacts.get(ctx.contacts.wa_id_of(phone)))


@bp.get("/contacts/<phone>/export")
async def export(request: Request, phone: str) -> HTTPResponse:
    ctx = bc(request)
    return out(await export_contact(ctx, ctx.contacts.wa_id_of(phone)))


@bp.delete("/contacts/<phone>")
async def erase(request: Request, phone: str) -> HTTPResponse:
    ctx = bc(request)
    return out({"deleted": await erase_contact(ctx, ctx.contacts.wa_id_of(phone))})


@bp.post("/consent")
async def consent(request: Request) -> HTTPResponse:
    ctx, data = bc(request), body(request)
    try:
        action = Action(data.get("action"))
    except ValueError:
        raise InvalidInput("action must be opt_in or opt_out") from None
    category = data.get("category", "marketing")
    if category not in ("marketing", "utility"):
        raise InvalidInput("category must be marketing or utility")
    wa_id = ctx.contacts.wa_id_of(str(data.get("phone", "")))
    result = await ctx.ledger.record(wa_id, category, action, Source.API, ref=str(data.get("id") or uuid.uuid4().hex))
    return out({"wa_id": wa_id, "category": category, "state": result.state if result else None})


@bp.post("/events")
async def business_event(request: Request) -> HTTPResponse:
    return out(await ingest_event(bc(request), body(request)), 202)


@bp.post("/contacts/import", stream=True)
async def upload(request: Request) -> HTTPResponse:
    """The raw CSV as the request body (streamed to a temporary file); the import runs in the background."""
    ctx = bc(request)
    job = uuid.uuid4().hex[:12]
    fd, path = tempfile.mkstemp(prefix="bc-import-", suffix=".csv")
    size = 0
    with os.fdopen(fd, "wb") as tmp:
        while True:
            chunk = await request.stream.read()
            if chunk is None:
                break
            tmp.write(chunk)
            size += len(chunk)
    jobs = ctx.db["imports"]
    await jobs.insert_one({"_id": job, "state": "running", "total_bytes": size, "started_at": datetime.now(timezone.utc)})
    task = asyncio.create_task(_run_import(ctx, job, path))
    request.app.ctx.tasks.add(task)
    task.add_done_callback(request.app.ctx.tasks.discard)
    return out({"job": job, "total_bytes": size}, 202)


async def _run_import(ctx, job: str, path: str) -> None:  # type: ignore[no-untyped-def]
    jobs = ctx.db["imports"]

    async def progress(report) -> None:  # type: ignore[no-untyped-def]
        summary = report.to_dict()
        summary["errors"] = summary["errors"][:200]
        await jobs.update_one({"_id": job}, {"$set": summary})

    try:
        with open(path, "rb") as stream:
            report = await ContactImporter(ctx.contacts, ctx.ledger, ctx.settings.import_batch).run(stream, progress)
        summary = report.to_dict()
        summary["errors"] = summary["errors"][:10_000]
        await jobs.update_one({"_id": job}, {"$set": {**summary, "state": "done",
                                                      "finished_at": datetime.now(timezone.utc)}})
    except Exception as exc:  # noqa: BLE001 - reported on the job
        await jobs.update_one({"_id": job}, {"$set": {"state": "failed", "error": str(exc)[:500]}})
    finally:
        os.unlink(path)


@bp.get("/imports/<job>")
async def import_status(request: Request, job: str) -> HTTPResponse:
    doc = await bc(request).db["imports"].find_one({"_id": job})
    if doc is None:
        raise NotFound(f"no import {job}")
    return out(doc)
