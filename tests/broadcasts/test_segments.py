"""Segments compile to MongoDB queries that match a brute-force Python filter, using indexes."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from broadcasts.contacts import ContactInput
from broadcasts.errors import InvalidInput
from broadcasts.segments import compile_filter

N = 2000


async def _populate(ctx):
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    people = []
    for i in range(N):
        attrs = {"gender": rng.choice(["female", "male", "other", None]), "shoe_size": rng.choice([None, *range(4, 12)]),
                 "city": rng.choice(["Pune", "Goa", None])}
        people.append(ContactInput(f"9198200{i:05d}", f"+9198200{i:05d}", f"P{i}",
                                   attrs, rng.sample(["vip", "newsletter", "churned"], rng.randint(0, 2))))
    await ctx.contacts.bulk_upsert(people)
    states = {}
    ops = []
    for p in people:
        state = rng.choice(["opted_in", "opted_out", None])
        inbound = rng.choice([None, now - timedelta(days=rng.randint(0, 30))])
        states[p.wa_id] = (state, inbound)
        sets = {}
        if state:
            sets["consent.marketing"] = {"state": state, "at": now, "source": "api"}
        if inbound:
            sets["last_inbound_at"] = inbound
        if sets:
            ops.append((p.wa_id, sets))
    from pymongo import UpdateOne
    await ctx.contacts.col.bulk_write([UpdateOne({"_id": w}, {"$set": s}) for w, s in ops])
    return {d["_id"]: d async for d in ctx.contacts.col.find()}


async def test_segment_matches_brute_force(ctx):
    docs = await _populate(ctx)
    now = datetime.now(timezone.utc)
    filter_ = {"all": [{"attr": "gender", "op": "eq", "value": "female"},
                       {"attr": "shoe_size", "op": "range", "gte": "6", "lte": 8},
                       {"consent": "marketing", "value": "opted_in"}]}

    def brute(d):
        a = d.get("attrs", {})
        return (a.get("gender") == "female" and a.get("shoe_size") is not None and 6 <= a["shoe_size"] <= 8
                and d.get("consent", {}).get("marketing", {}).get("state") == "opted_in")

    expected = {w for w, d in docs.items() if brute(d)}
    assert 20 < len(expected) < N
    query = compile_filter(filter_, await ctx.contacts.schema())
    got = {d["_id"] async for d in ctx.contacts.col.find(query, {"_id": 1})}
    assert got == expected
    assert await ctx.segments.count(filter_) == len(expected)

    other = {"any": [{"tags": "all", "values": ["vip", "newsletter"]},
                     {"all": [{"inbound_within_days": 7}, {"not": {"attr": "city", "op": "exists"}}]}]}

    def brute2(d):
        tags = set(d.get("tags") or [])
        recent = d.get("last_inbound_at") and d["last_inbound_at"] >= now - timedelta(days=7)
        return {"vip", "newsletter"} <= tags or bool(recent and "city" not in d.get("attrs", {}))

    expected2 = {w for w, d in docs.items() if brute2(d)}
    assert await ctx.segments.count(other) == len(expected2) > 0


async def _plan(ctx, filter_):
    query = compile_filter(filter_, await ctx.contacts.schema())
    return str((await ctx.contacts.col.find(query).explain())["queryPlanner"]["winningPlan"])


async def test_segment_query_uses_an_index(ctx):
    await _populate(ctx)
    gender = {"attr": "gender", "op": "eq", "value": "female"}
    size = {"attr": "shoe_size", "op": "range", "gte": 6, "lte": 8}
    for leaf in (gender, size, {"tags": "any", "values": ["vip"]}, {"consent": "marketing", "value": "opted_in"},
                 {"inbound_within_days": 3}):
        assert "IXSCAN" in await _plan(ctx, leaf), leaf
    # A conjunction: mongod picks (or intersects) these single-field indexes; SecantusDB 0.7's
    # planner falls back to COLLSCAN when several indexes are candidates, so only the leaves
    # are asserted here (documented in broadcasts/README.md).
    assert await ctx.segments.count({"all": [gender, size]}) > 0


async def test_saved_segments_and_validation(ctx):
    saved = await ctx.segments.save("women", "Women", {"attr": "gender", "op": "eq", "value": "female"})
    assert (await ctx.segments.get("women"))["filter"] == saved["filter"]
    for bad in ({"attr": "gender", "op": "eq", "value": "purple"}, {"attr": "nope", "op": "eq", "value": 1},
                {"tags": "some", "values": ["x"]}, {"attr": "shoe_size", "op": "like", "value": 1}):
        with pytest.raises(InvalidInput):
            await ctx.segments.count(bad)
