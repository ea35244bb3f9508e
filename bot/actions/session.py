"""A new session starts clean: only the customer's name carries over (no stale order ids,
pincodes or forms), which also keeps the tracker small (see rasa-3.6-notes.md).

"restart" / "start over" (intent restart_chat; also what a customer's typed ``/restart``
arrives as) starts the chat afresh the same way within the session: any form ends, slots are
reset except the name. It never emits Rasa's ``restart`` event (that would also un-pause a
tracker and is not the customer's to trigger)."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, AllSlotsReset, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

CARRIED_SLOTS = ("customer_name",)


class ActionSessionStart(Action):
    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        events: List[Dict[Text, Any]] = [SessionStarted()]
        metadata = tracker.get_slot("session_started_metadata") or {}
        for slot in CARRIED_SLOTS:
            value = tracker.get_slot(slot)
            if slot == "customer_name":
                # The WhatsApp profile name the channel puts in the message metadata wins.
                value = (metadata.get("name") if isinstance(metadata, dict) else None) or value
            if value:
                events.append(SlotSet(slot, value))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionRestartChat(Action):
    """The customer asked to start over: end any form, forget slots but the name (the rule then
    shows the menu, ``utter_restart_chat``)."""

    def name(self) -> Text:
        return "action_restart_chat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        events: List[Dict[Text, Any]] = []
        if tracker.active_loop_name:
            events.append(ActiveLoop(None))
        events.append(AllSlotsReset())
        for slot in CARRIED_SLOTS:
            value = tracker.get_slot(slot)
            if value:
                events.append(SlotSet(slot, value))
        return events
