"""JSON in and out for the API routes."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Dict

from sanic import Request
from sanic.response import HTTPResponse

from ..errors import InvalidInput


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return list(value)
    if hasattr(value, "value"):
        return value.value
    return str(value)


def out(body: Any, status: int = 200) -> HTTPResponse:
    return HTTPResponse(json.dumps(body, default=_default, ensure_ascii=False), status=status,
                        content_type="application/json")


def body(request: Request) -> Dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return data


def bc(request: Request) -> Any:
    """The service Context."""
    return request.app.ctx.bc
