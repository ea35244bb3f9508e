"""Shared test data for campaign tests."""
from __future__ import annotations

import io
from collections import Counter
from typing import Any, Dict, List

from broadcasts.importer import ContactImporter

SALE_VARS = {"first_name": {"attr": "first_name", "default": "there"}, "discount": {"value": "20%"}}


def wa(i: int) -> str:
    return f"9198300{i:05d}"


async def import_contacts(ctx: Any, n: int, opted_out: int = 0) -> List[str]:
    """n contacts opted in to marketing; the last ``opted_out`` of them say no."""
    rows = [f"+{wa(i)},P{i},F{i},{'female' if i % 2 else 'male'},{i % 12},{'no' if i >= n - opted_out else 'yes'}"
            for i in range(n)]
    data = ("phone,name,first_name,gender,shoe_size,opt_in\n" + "\n".join(rows) + "\n").encode()
    report = await ContactImporter(ctx.contacts, ctx.ledger).run(io.BytesIO(data))
    assert report.failed == 0
    return [wa(i) for i in range(n)]


async def template_id(ctx: Any, name: str) -> str:
    return next(t["_id"] for t in await ctx.templates.list() if t["name"] == name)


def per_recipient(outbox: List[Dict[str, Any]], name: str) -> Counter:
    return Counter(m["to"].lstrip("+") for m in outbox
                   if m.get("type") == "template" and (m.get("payload") or {}).get("template", {}).get("name") == name)
