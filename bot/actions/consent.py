"""Marketing consent from the chat: STOP / START.

Opting out takes one message (STOP). Opting in is an explicit, confirmed choice: the opt_in
intent (START, "subscribe", ...) only gets the question ``utter_ask_opt_in`` (rules.yml), and
only its "Yes, send offers" button, whose payload ``/opt_in{"consent": "confirmed"}`` the bot
itself sent, runs ``action_opt_in``. The action checks that again (:func:`confirmed`): typed text
reaches Rasa without a leading ``/`` (connectors/mapping.py) and no extractor produces the
``consent`` entity, so a misread message can only ever lead to the question.

Each change is one Redis transaction: the fast-path key (keys.consent_optout) and the
``contact.opted_out|opted_in`` event on the events stream, which broadcasts' consent ledger
consumes. The customer hears "done" only after Redis said so.
"""
from __future__ import annotations

import abc
import logging
import time
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import ConnectionError as RedisConnectionError

from connectors import events, keys
from connectors.events import Event

from . import clients
from .common import message_id, wa_id

log = logging.getLogger(__name__)

CATEGORY = "marketing"
CONFIRM_ENTITY, CONFIRM_VALUE = "consent", "confirmed"
ASK_RESPONSE = "utter_ask_opt_in"


def confirmed(tracker: Tracker) -> bool:
    """True when the latest message is the bot's own confirm button: an intent command (typed
    text never starts with ``/``) carrying ``consent: confirmed``."""
    latest = tracker.latest_message or {}
    if not str(latest.get("text") or "").startswith("/"):
        return False
    return any(e.get("entity") == CONFIRM_ENTITY and e.get("value") == CONFIRM_VALUE
               for e in latest.get("entities") or [])


async def record(redis: Any, customer: str, opted_out: bool, event_id: str) -> None:
    """Write the consent change atomically; raises on any Redis failure.

    A dropped connection is tried once more on a fresh one: redis-py 4.6 does not retry a
    MULTI/EXEC itself, and after a Redis restart the pooled connection it takes is stale
    (connectors/redis_options.py). Repeating is safe even if the first EXEC ran: the key's value is
    the same decision and the event keeps its id, by which the consent ledger stores it once."""
    now = time.time()
    kind = events.CONTACT_OPTED_OUT if opted_out else events.CONTACT_OPTED_IN
    event = Event(kind, event_id, {"wa_id": customer, "source": "bot", "category": CATEGORY}, now)
    for attempt in (1, 2):
        try:
            async with redis.pipeline(transaction=True) as pipe:
                if opted_out:
                    pipe.set(keys.consent_optout(customer), f"{now:.0f} bot")
                else:
                    pipe.delete(keys.consent_optout(customer))
                pipe.xadd(keys.EVENTS_STREAM, event.to_fields())
                await pipe.execute()
            return
        except RedisConnectionError:
            if attempt == 2:
                raise


class _ConsentAction(Action, metaclass=abc.ABCMeta):
    opted_out: bool
    done: str
    failed: str

    @abc.abstractmethod
    def name(self) -> Text:
        ...

    def allowed(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
        return True

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if not self.allowed(dispatcher, tracker):
            return []
        customer = wa_id(tracker)
        try:
            await record(clients.redis(), customer, self.opted_out, f"{customer}:{message_id(tracker)}")
        except Exception as exc:  # noqa: BLE001 - never claim a consent change that was not stored
            log.warning("%s not stored: %r", self.name(), exc)  # the bound trace id says whose
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

    def allowed(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
        """Only the confirm button records an opt-in; anything else gets the question again."""
        if confirmed(tracker):
            return True
        dispatcher.utter_message(response=ASK_RESPONSE)
        return False
