"""A bare order id, pincode, size or model name outside any form: answer what it asks."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from .common import latest_entity
from .orders import ActionOrderStatus
from .products import ActionCheckAvailability, ActionDeliveryEstimate, ActionSizeHelp

_ROUTES = (("order_id", ActionOrderStatus), ("pincode", ActionDeliveryEstimate),
           ("product", ActionCheckAvailability), ("shoe_size", ActionSizeHelp))


class ActionHandleInform(Action):
    def name(self) -> Text:
        return "action_handle_inform"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if latest_entity(tracker, "shoe_size") and tracker.get_slot("product"):
            # "UK 9" right after asking about a model means: is it in stock in my size?
            return await ActionCheckAvailability().run(dispatcher, tracker, domain)
        for entity, action in _ROUTES:
            if latest_entity(tracker, entity):
                return await action().run(dispatcher, tracker, domain)
        dispatcher.utter_message(
            text="Got it 👍 What would you like to do with that?",
            buttons=[{"title": "Track my order", "payload": "/order_status"},
                     {"title": "Delivery time", "payload": "/delivery_time"},
                     {"title": "Talk to a human", "payload": "/human_handoff"}])
        return []
