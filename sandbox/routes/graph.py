"""The fake Graph API: messages, media, templates, object lookups (all under ``/{version}/``)."""
from __future__ import annotations

import asyncio
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, raw

from .. import outbound, template_admin
from ..errors import GraphError, unknown_object
from ..state import Sandbox
from .common import check_token, check_version, graph_json, query, respond, sandbox_of

MAX_UPLOAD_BYTES = 100 * 1024 * 1024


def _guard(request: Request, version: str) -> Sandbox:
    check_version(version)
    sandbox = sandbox_of(request)
    check_token(request, sandbox)
    return sandbox


def _base_url(request: Request, sandbox: Sandbox) -> str:
    return sandbox.settings.public_url.rstrip("/") or f"{request.scheme}://{request.host}"


def register(app: Sanic) -> None:
    @app.post("/<version>/<node>/messages", name="graph_send")
    async def send(request: Request, version: str, node: str) -> HTTPResponse:
        sandbox = _guard(request, version)
        if node != sandbox.settings.phone_number_id:
            raise unknown_object(node)
        outcome = outbound.send(sandbox, graph_json(request), version)
        if outcome.stall_s:
            await asyncio.sleep(outcome.stall_s)
        return respond(outcome.body)

    @app.post("/<version>/<node>/media", name="graph_upload")
    async def upload(request: Request, version: str, node: str) -> HTTPResponse:
        sandbox = _guard(request, version)
        if node != sandbox.settings.phone_number_id:
            raise unknown_object(node)
        if not request.content_type.startswith("multipart/form-data"):
            raise GraphError(100, "Upload media as multipart/form-data with file, type and messaging_product.")
        files = request.files.get("file") if request.files else None
        if not files:
            raise GraphError(100, "The parameter file is required.")
        form = request.form or {}
        if form.get("messaging_product", "").lower() != "whatsapp":
            raise GraphError(100, "The parameter messaging_product is required.")
        upload = files[0] if isinstance(files, list) else files
        mime = form.get("type") or upload.type or "application/octet-stream"
        media = sandbox.store.add_media(mime, upload.body, upload.name or None, sandbox.now())
        return respond({"id": media.id})

    @app.get("/<version>/<node>", name="graph_get_object")
    async def get_object(request: Request, version: str, node: str) -> HTTPResponse:
        sandbox = _guard(request, version)
        return respond(_lookup(request, sandbox, node))

    @app.post("/<version>/<node>", name="graph_edit_object")
    async def edit_object(request: Request, version: str, node: str) -> HTTPResponse:
        sandbox = _guard(request, version)
        template = sandbox.templates.get(node)
        if template is None:
            raise unknown_object(node)
        return respond(template_admin.edit(sandbox, template, graph_json(request)))

    @app.delete("/<version>/<node>", name="graph_delete_object")
    async def delete_object(request: Request, version: str, node: str) -> HTTPResponse:
        sandbox = _guard(request, version)
        if sandbox.store.media.pop(node, None) is None:
            raise unknown_object(node, "delete")
        return respond({"success": True})

    @app.route("/<version>/<node>/message_templates", methods=["GET", "POST", "DELETE"], name="graph_templates")
    async def templates(request: Request, version: str, node: str) -> HTTPResponse:
        sandbox = _guard(request, version)
        if node != sandbox.settings.waba_id:
            raise unknown_object(node, request.method.lower())
        args = query(request)
        if request.method == "POST":
            return respond(template_admin.create(sandbox, graph_json(request)))
        if request.method == "DELETE":
            return respond(template_admin.delete(sandbox, args.get("name"), args.get("hsm_id")))
        page_url = f"{_base_url(request, sandbox)}/{version}/{node}/message_templates"
        return respond(template_admin.listing(sandbox, args, page_url))

    @app.get("/_sandbox/media/<media_id>", name="media_download")
    async def download(request: Request, media_id: str) -> HTTPResponse:
        sandbox = sandbox_of(request)
        check_token(request, sandbox)
        media = sandbox.store.media.get(media_id)
        if media is None:
            raise GraphError(100, f"Media {media_id} not found.", http_status=404)
        return raw(media.data, content_type=media.mime_type)


def _lookup(request: Request, sandbox: Sandbox, node: str) -> dict[str, Any]:
    args = query(request)
    media = sandbox.store.media.get(node)
    if media is not None:
        return {"messaging_product": "whatsapp", "url": f"{_base_url(request, sandbox)}/_sandbox/media/{media.id}",
                "mime_type": media.mime_type, "sha256": media.sha256_hex, "file_size": len(media.data),
                "id": media.id}
    template = sandbox.templates.get(node)
    if template is not None:
        fields = [item.strip() for item in args.get("fields", "").split(",") if item.strip()] or None
        return template.to_graph(fields)
    settings = sandbox.settings
    if node == settings.phone_number_id:
        return {"id": node, "display_phone_number": settings.display_phone_number, "verified_name": "Parley Sandbox",
                "quality_rating": "GREEN", "code_verification_status": "VERIFIED",
                "throughput": {"level": "HIGH" if sandbox.config.throughput_mps >= 1000 else "STANDARD"},
                "whatsapp_business_manager_messaging_limit": "TIER_UNLIMITED"}
    if node == settings.waba_id:
        return {"id": node, "name": "Parley Sandbox WABA", "currency": "USD", "timezone_id": "1",
                "message_template_namespace": "parley_sandbox"}
    raise unknown_object(node, "get")
