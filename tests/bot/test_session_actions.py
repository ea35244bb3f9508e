"""Starting over (restart_chat): the form ends, slots reset, the name stays; no Rasa `restart`."""
from __future__ import annotations

import pytest

from .conftest import tracker, user

pytestmark = pytest.mark.bot
WA = "919800033344"


async def test_start_over_ends_the_form_and_keeps_only_the_name(run_action):
    events = [user("where is my order", "order_status"), user("restart", "restart_chat")]
    result = await run_action("action_restart_chat", tracker(
        WA, events, slots={"customer_name": "Asha", "order_id": "PS-10023", "requested_slot": "order_id"},
        active_loop="order_form"))

    kinds = [e["event"] for e in result["events"]]
    assert kinds == ["active_loop", "reset_slots", "slot"]
    assert result["events"][0]["name"] is None
    assert (result["events"][2]["name"], result["events"][2]["value"]) == ("customer_name", "Asha")
    assert "restart" not in kinds and result["responses"] == []  # the rule says utter_restart_chat
