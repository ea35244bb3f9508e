"""Handoff to the human team: on request, after repeated fallbacks or by rule; and hand-back."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, AllSlotsReset, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import clients, escalation
from .common import customer_name, latest_intent, message_id, session_events, wa_id

QUEUED_TEXT = ("Connecting you to our team 🙋 Someone will reply right here, usually within 15 "
               "minutes (Mon-Sat, 10 am-7 pm). Anything you type now goes straight to them.")
ALREADY_TEXT = "You're already with our team 🙋 They'll reply right here soon."
FAILED_TEXT = ("Sorry, I couldn't reach our team just now 😕. Please try again in a few minutes, "
               "or email {email}.")
BACK_TEXT = "You're back with the Paidal assistant 🤖 Hope our team sorted things out! Need anything else?"


class ActionRequestHandoff(Action):
    """Queue the chat for a human with the reason and the bot's context, then say what happens."""

    def name(self) -> Text:
        return "action_request_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        reason = "asked"
        if latest_intent(tracker) != "human_handoff":
            reason = tracker.get_slot("handoff_reason") or "asked"
        customer = wa_id(tracker)
        # `handoff_offered` stays: if Redis failed, a second "yes" retries; the next other
        # message clears it (its slot mapping).
        events: List[Dict[Text, Any]] = [SlotSet("handoff_reason", None)]
        if tracker.active_loop_name:
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        try:
            owner = await escalation.request(
                clients.redis(), customer, customer_name(tracker), reason,
                escalation.context(tracker), f"{customer}:{message_id(tracker)}")
        except Exception:  # noqa: BLE001 - say so rather than promise a human who never comes
            dispatcher.utter_message(text=FAILED_TEXT.format(email=clients.settings().support_email))
            return events
        dispatcher.utter_message(text=QUEUED_TEXT if owner is None else ALREADY_TEXT)
        return events


class ActionHandleFallback(Action):
    """Decide what a fallback leads to; rules turn `fallback_step` into the reply:
    rephrase (first), offer_human (second in a row and later), handoff (a rule matched)."""

    def name(self) -> Text:
        return "action_handle_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        rule = await _matching_rule(wa_id(tracker))
        if rule:
            return [SlotSet("fallback_step", "handoff"), SlotSet("handoff_reason", f"rule:{rule}")]
        if consecutive_fallbacks(tracker) >= 2:
            return [SlotSet("fallback_step", "offer_human"), SlotSet("handoff_offered", True),
                    SlotSet("handoff_reason", "fallback")]
        return [SlotSet("fallback_step", "rephrase")]


class ActionHandoffEnded(Action):
    """A human handed the chat back: greet, and start clean (no stale slots or forms)."""

    def name(self) -> Text:
        return "action_handoff_ended"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=BACK_TEXT)
        events: List[Dict[Text, Any]] = []
        if tracker.active_loop_name:
            events.append(ActiveLoop(None))
        events.append(AllSlotsReset())
        name = tracker.get_slot("customer_name")
        if name:
            events.append(SlotSet("customer_name", name))
        return events


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the customer's latest messages in a row (this session) were nlu_fallback."""
    count = 0
    for event in reversed(session_events(tracker)):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != "nlu_fallback":
            break
        count += 1
    return count


async def _matching_rule(customer: str) -> Optional[str]:
    """The configured handoff rule this customer matches ("vip" for the VIP tag), if any.
    Contacts live in MongoDB (`contacts`, keyed by wa_id); if it is down, no rule matches."""
    tag = clients.settings().handoff_vip_tag
    if not tag:
        return None
    try:
        doc = await clients.mongo_db().contacts.find_one({"_id": customer}, {"tags": 1})
    except Exception:  # noqa: BLE001 - a rule lookup must never break the fallback reply
        return None
    tags = {str(t).strip().lower() for t in (doc or {}).get("tags") or []}
    return "vip" if tag in tags else None
