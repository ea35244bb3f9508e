"""Order tracking: the order form's prompt and the lookup itself."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import clients, order_store
from .common import HUMAN_BUTTON, entity_or_slot, wa_id

ASK_TEXT = "Sure! Please share your order ID 📦 It looks like PS-10023 and is in your order SMS/email."


class ActionAskOrderId(Action):
    """The order form's question; offers the customer's recent orders as buttons."""

    def name(self) -> Text:
        return "action_ask_order_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            orders = await order_store.recent(clients.mongo_db(), wa_id(tracker))
        except order_store.OrdersUnavailable:
            orders = []
        if orders:
            buttons = [{"title": o["order_id"], "payload": f'/inform{{"order_id":"{o["order_id"]}"}}'}
                       for o in orders]
            dispatcher.utter_message(text="Which order? Tap one below, or type the order ID 📦",
                                     buttons=buttons)
        else:
            dispatcher.utter_message(text=ASK_TEXT)
        return []


class ActionOrderStatus(Action):
    """Look the order up and say where it is. Clears `order_id` so the next question asks again."""

    def name(self) -> Text:
        return "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        raw = entity_or_slot(tracker, "order_id")
        order_id = order_store.normalise_id(raw)
        events: List[Dict[Text, Any]] = [SlotSet("order_id", None)]
        if order_id is None:
            dispatcher.utter_message(text=ASK_TEXT)
            return events
        try:
            order = await order_store.find(clients.mongo_db(), order_id)
        except order_store.OrdersUnavailable:
            dispatcher.utter_message(
                text="Sorry, I can't check orders right now 😕. Please try again in a few minutes, "
                     "or I can connect you to our team.",
                buttons=[HUMAN_BUTTON])
            return events
        if order is None:
            dispatcher.utter_message(
                text=f"I couldn't find an order {order_id} 🤔. Please check the ID "
                     "(it looks like PS-10023), or talk to our team.",
                buttons=[HUMAN_BUTTON])
            return events
        mine = str(order.get("wa_id") or "") == wa_id(tracker)
        late = order_store.is_late(order)
        dispatcher.utter_message(text=order_store.describe(order, full=mine),
                                 buttons=[HUMAN_BUTTON] if late else [])
        return events
