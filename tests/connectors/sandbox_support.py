"""Helpers over the sandbox's admin API (the ``admin`` fixture in conftest.py)."""
from __future__ import annotations

from typing import Any, Dict, List

import httpx


async def outbox(admin: httpx.AsyncClient, to: str = "") -> List[Dict[str, Any]]:
    """Messages the sandbox accepted (to one recipient if ``to``)."""
    response = await admin.get("/_sandbox/outbox", params={"to": to} if to else None)
    response.raise_for_status()
    return response.json()["messages"]


async def configure(admin: httpx.AsyncClient, **config: Any) -> None:
    (await admin.patch("/_sandbox/config", json=config)).raise_for_status()
