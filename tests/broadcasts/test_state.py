"""The campaign state machine: every legal move, every illegal one, and atomic races."""
from __future__ import annotations

import asyncio
import itertools

import pytest

from broadcasts.campaigns.state import TRANSITIONS, CampaignState, funnel_levels, transition
from broadcasts.errors import IllegalTransition


@pytest.mark.parametrize("action,state", list(itertools.product(TRANSITIONS, CampaignState)))
def test_transition_table(action, state):
    sources, target = TRANSITIONS[action]
    if state in sources:
        assert transition(action, state) is target
    else:
        with pytest.raises(IllegalTransition):
            transition(action, state)


def test_terminal_states_have_no_way_out_but_retry():
    for state in (CampaignState.CANCELLED,):
        assert not [a for a, (src, _) in TRANSITIONS.items() if state in src]
    assert [a for a, (src, _) in TRANSITIONS.items() if CampaignState.COMPLETED in src] == ["retry"]


def test_funnel_levels_include_implied_ones():
    assert funnel_levels(5) == ["sent", "delivered", "read"]
    assert funnel_levels(4) == ["sent", "delivered"]
    assert funnel_levels(1) == []


async def test_only_one_concurrent_start_wins(ctx):
    await ctx.campaigns.create({"template_id": "t1"}, "c1")
    await ctx.campaigns.transition("c1", "schedule")
    results = await asyncio.gather(*[ctx.campaigns.transition("c1", "start") for _ in range(8)],
                                   return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, IllegalTransition) for r in results if isinstance(r, Exception))
    assert await ctx.campaigns.control("c1") == "running"
    with pytest.raises(IllegalTransition):
        await ctx.campaigns.transition("c1", "resume")
    await ctx.campaigns.transition("c1", "pause")
    await ctx.campaigns.transition("c1", "cancel")
    doc = await ctx.campaigns.get("c1")
    assert [h["action"] for h in doc["history"]] == ["schedule", "start", "pause", "cancel"]
