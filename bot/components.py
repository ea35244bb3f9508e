"""The bot's own NLU pipeline component (listed first in both configs): bad input guards.

- Blank text would reach the classifiers with no tokens: RegexFeaturizer then emits no features
  and the classifier fails on the feature count (seen with LogisticRegression), so the message
  would get no reply at all. A blank message is read as the connector's placeholder ``[empty]``,
  which the fallback answers.
- Runs of one letter ("pleeeease", or 4,096 times "a") are cut to three: count features grow
  with the run and a long enough run pushed gibberish to one intent at confidence 1.0.
  Digits are left alone (order ids like PS-10000).
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from connectors.mapping import EMPTY_TEXT

_LETTER_RUN = re.compile(r"([^\W\d_])\1{3,}")


def clean(text: str) -> str:
    """The text the NLU pipeline sees."""
    if not text.strip():
        return EMPTY_TEXT
    return _LETTER_RUN.sub(r"\1\1\1", text)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class BlankTextGuard(GraphComponent):
    """Cleans message text before tokenization (at prediction time; training data is as written)."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "BlankTextGuard":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            cleaned = clean(text)
            if cleaned != text:
                message.set(TEXT, cleaned)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
