"""Marketing consent from the chat: STOP / START.

Each change is one Redis transaction: the fast-path key (keys.consent_optout) and the
``contact.opted_out|opted_in`` event on the events stream, which broadcasts' consent ledger
consumes. The customer hears "done" only after Redis said so.
"""
from __future__ import annotations

import abc
import time
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from connectors import events, keys
from connectors.events import Event

from . import clients
from .common import message_id, wa_id

CATEGORY = "marketing"


async def record(redis: Any, customer: str, opted_out: bool, event_id: str) -> None:
    """Write the consent change atomically; raises on any Redis failure."""
    now = time.time()
    kind = events.CONTACT_OPTED_OUT if opted_out else events.CONTACT_OPTED_IN
    event = Event(kind, event_id, {"wa_id": customer, "source": "bot", "category": CATEGORY}, now)
    async with redis.pipeline(transaction=True) as pipe:
        if opted_out:
            pipe.set(keys.consent_optout(customer), f"{now:.0f} bot")
        else:
            pipe.delete(keys.consent_optout(customer))
        pipe.xadd(keys.EVENTS_STREAM, event.to_fields())
        await pipe.execute()


class _ConsentAction(Action, metaclass=abc.ABCMeta):
    opted_out: bool
    done: str
    failed: str

    @abc.abstractmethod
    def name(self) -> Text:
        ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        customer = wa_id(tracker)
        try:
            await record(clients.redis(), customer, self.opted_out, f"{customer}:{message_id(tracker)}")
        except Exception:  # noqa: BLE001 - never claim a consent change that was not stored
            dispatcher.utter_message(text=self.failed.format(email=clients.settings().support_email))
            return []
        dispatcher.utter_message(text=self.done)
        return []


class ActionOptOut(_ConsentAction):
    opted_out = True
    done = ("Done ✅ You won't get offers or promotions from Paidal on WhatsApp any more. "
            "You can still message us anytime about orders. Changed your mind? Send START.")
    failed = ("Sorry, I couldn't update your preferences just now 😕. Please send STOP again in a "
              "few minutes, or email {email}.")

    def name(self) -> Text:
        return "action_opt_out"


class ActionOptIn(_ConsentAction):
    opted_out = False
    done = ("You're in 🎉 We'll send you Paidal offers and new launches on WhatsApp. "
            "Send STOP anytime to unsubscribe.")
    failed = ("Sorry, I couldn't update your preferences just now 😕. Please try again in a few "
              "minutes, or email {email}.")

    def name(self) -> Text:
        return "action_opt_in"
