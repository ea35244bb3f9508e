"""Sizes, stock and delivery estimates."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import catalogue, delivery, sizes
from .common import entity_or_slot, latest_entity

ASK_PINCODE = "Sure! Please share your 6-digit delivery pincode 📍 (e.g. 560038)."


class ActionSizeHelp(Action):
    """Convert the size the customer gave, or show the chart."""

    def name(self) -> Text:
        return "action_size_help"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        size = sizes.parse(latest_entity(tracker, "shoe_size"))
        dispatcher.utter_message(text=sizes.explain(size) if size else sizes.CHART)
        return []


class ActionCheckAvailability(Action):
    """Stock for a model (and size), from the catalogue."""

    def name(self) -> Text:
        return "action_check_availability"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        model = catalogue.find(entity_or_slot(tracker, "product"))
        if model is None:
            dispatcher.utter_message(
                text="Here's our range 👟\n" + catalogue.listing()
                     + "\nWhich model, and which size (UK)?")
            return []
        dispatcher.utter_message(text=availability(model, sizes.parse(entity_or_slot(tracker, "shoe_size"))))
        return [SlotSet("product", model.name)]


def availability(model: catalogue.Model, size: Optional[sizes.Size]) -> str:
    stock = ", ".join(sizes._num(s) for s in model.in_stock)
    if size is None:
        return (f"{model.name} ({model.kind}, {model.price_text}) is in stock in UK {stock} ✅ "
                "Which size do you wear?")
    uk = sizes.to_uk(size)
    label = f"UK {sizes._num(uk)}" if uk is not None else str(size)
    if uk is None or uk not in model.sizes:
        return f"{model.name} doesn't come in {label} 😕. Available: UK {stock}."
    if uk in model.sold_out:
        return (f"{model.name} in {label} is sold out right now 😕, back in about "
                f"{catalogue.RESTOCK_DAYS} days. In stock: UK {stock}.")
    return f"Yes! {model.name} in {label} is in stock ✅ {model.price_text}. Order at {model.url}"


class ActionAskPincode(Action):
    """The delivery form's question."""

    def name(self) -> Text:
        return "action_ask_pincode"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=ASK_PINCODE)
        return []


class ActionDeliveryEstimate(Action):
    """Days to deliver to the pincode. Clears `pincode` so the next question asks again."""

    def name(self) -> Text:
        return "action_delivery_estimate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        pincode = delivery.normalise(entity_or_slot(tracker, "pincode"))
        if pincode is None:
            dispatcher.utter_message(text=ASK_PINCODE)
        else:
            dispatcher.utter_message(text=delivery.describe(delivery.estimate(pincode)))
        return [SlotSet("pincode", None)]
