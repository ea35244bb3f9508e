"""Helpers shared by the route modules: state access, auth, JSON in and out."""
from __future__ import annotations

import hmac
import json
import re
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from ..errors import AdminError, GraphError, token_error
from ..state import Sandbox

VERSION = re.compile(r"^v\d{1,2}\.\d$")


def sandbox_of(request: Request) -> Sandbox:
    return request.app.ctx.sandbox  # type: ignore[no-any-return]


def respond(body: Any, status: int = 200) -> HTTPResponse:
    return HTTPResponse(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")


def check_version(version: str) -> None:
    if not VERSION.match(version):
        raise GraphError(100, f"Unknown path components: /{version}", subcode=2500,
                         message="Unknown path components")


def check_token(request: Request, sandbox: Sandbox) -> None:
    """Bearer header (or ``access_token`` query parameter, as Graph accepts); 190 / 401 otherwise."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else request.args.get("access_token")
    if not token:
        raise token_error("An active access token must be used to query information.")
    if not hmac.compare_digest(token.encode(), sandbox.config.access_token.encode()):
        raise token_error("The access token could not be decrypted.")


def graph_json(request: Request) -> Any:
    """The JSON body of a Graph call; code 100 (400) for an empty or malformed body."""
    raw = request.body
    if not raw:
        raise GraphError(100, "The request body is empty; a JSON object is required.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise GraphError(100, "The request body is not valid JSON.") from None


def admin_json(request: Request, *, required: bool = True) -> Any:
    raw = request.body
    if not raw:
        if required:
            raise AdminError("a JSON body is required")
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise AdminError("the body is not valid JSON") from None


def query(request: Request) -> dict[str, str]:
    """Query arguments, last value wins."""
    return {key: values[-1] for key, values in request.args.items()}
