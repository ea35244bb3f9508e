"""The bot's own NLU pipeline components: bad input guards.

``BlankTextGuard`` (first step of both configs):

- Blank text would reach the classifiers with no tokens: RegexFeaturizer then emits no features
  and the classifier fails on the feature count (seen with LogisticRegression), so the message
  would get no reply at all. A blank message is read as the connector's placeholder ``[empty]``,
  which the fallback answers.
- Runs of one letter ("pleeeease", or 4,096 times "a") are cut to three: count features grow
  with the run and a long enough run pushed gibberish to one intent at confidence 1.0.
  Digits are left alone (order ids like PS-10000).

``UnknownWordsGuard`` (right after the intent classifier, before the FallbackClassifier):
- A classifier always picks *some* intent, and the char n-gram features give keyboard mash a
  confident one ("asdfgh jkl" -> affirm 0.53, "hmm" -> greet 0.69, "aaa" -> affirm 0.66). The
  guard learns the vocabulary of the training data (every token, plus the lookup tables) and,
  when *no* token of a message is known, caps every intent confidence at ``max_confidence``
  (below both configs' fallback thresholds): the FallbackClassifier then answers
  ``nlu_fallback``, so two such messages in a row lead to the human offer.
- "Known" is forgiving, so typos of real words still reach the classifier (see
  :class:`Vocabulary`): a token with a digit (order ids, sizes, pincodes), a vocabulary word,
  one edit from one ("ordr", "hleo", "delivry"), or one with stretched letters ("yesss").
- Confidences are scaled, not replaced, so the ranking (and ``rasa test nlu``, which scores
  the top intent under the fallback) keeps what the classifier thought.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, Iterable, List, Optional, Set, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import (
    INTENT, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from connectors.mapping import EMPTY_TEXT

logger = logging.getLogger(__name__)

_LETTER_RUN = re.compile(r"([^\W\d_])\1{3,}")
_VOCABULARY_FILE = "vocabulary.json"


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


def _deletes(word: str) -> Iterable[str]:
    return (word[:i] + word[i + 1:] for i in range(len(word)))


_RUN = re.compile(r"(.)\1+")


def _collapse(word: str) -> str:
    """Runs of one character to one: "hellooo" -> "helo", "yess" -> "yes", "👍👍" -> "👍"."""
    return _RUN.sub(r"\1", word)


class Vocabulary:
    """Words seen in training, and whether a message token is close enough to one of them.

    A token is known when it has a digit, is a vocabulary word, or is one edit from one
    (symmetric deletes: a typo and its word share a key when they differ by one insert, delete,
    substitution or adjacent swap) for tokens of at least ``fuzzy_min_length`` characters; a
    shorter token only when it is a longer word with one letter dropped ("nhi" for "nahi") and
    repeats no letter; or
    when, with repeated characters collapsed, it equals a collapsed vocabulary word of at least
    three characters ("hellooo", "yess") or, for emoji and punctuation, any ("👍👍"). Keyboard
    mash and fillers ("asdfgh", "jkl", "hmm", "aaa") match none of these.
    """

    def __init__(self, words: Iterable[str], fuzzy_min_length: int = 4) -> None:
        self.words: Set[str] = {w.lower() for w in words if w}
        self.fuzzy_min_length = fuzzy_min_length
        self._near: Set[str] = set(self.words)
        self._collapsed: Set[str] = set()
        for word in self.words:
            if len(word) >= fuzzy_min_length:
                self._near.update(_deletes(word))
            collapsed = _collapse(word)
            if len(collapsed) >= 3 or not any(ch.isalnum() for ch in word):
                self._collapsed.add(collapsed)

    def knows(self, token: str) -> bool:
        token = token.lower()
        if token in self.words or any(ch.isdigit() for ch in token):
            return True
        collapsed = _collapse(token)
        if (len(collapsed) >= 3 or not any(ch.isalnum() for ch in token)) and collapsed in self._collapsed:
            return True
        if len(token) < self.fuzzy_min_length:
            # "nhi" (nahi), but never a run like "aaa" (a deletion of Hindi "aaya") or "hmm"
            return len(token) >= 3 and collapsed == token and token in self._near
        return token in self._near or any(d in self._near for d in _deletes(token))

    def knows_any(self, tokens: Iterable[str]) -> bool:
        return any(self.knows(t) for t in tokens)


def _token_texts(message: Message) -> List[str]:
    return [t.text for t in message.get(TOKENS_NAMES[TEXT]) or []]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class UnknownWordsGuard(GraphComponent):
    """Caps the intent confidences of a message none of whose words the bot was trained on."""

    @classmethod
    def required_components(cls) -> List[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_confidence": 0.2, "fuzzy_min_length": 4}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 vocabulary: Optional[Vocabulary] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "UnknownWordsGuard":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        words: Set[str] = set()
        for example in training_data.training_examples:
            words.update(_token_texts(example))
        for table in training_data.lookup_tables:
            for element in table.get("elements") or []:
                words.update(str(element).split())
        self.vocabulary = Vocabulary(words, self.config["fuzzy_min_length"])
        with self._model_storage.write_to(self._resource) as directory:
            (directory / _VOCABULARY_FILE).write_text(
                json.dumps(sorted(self.vocabulary.words), ensure_ascii=False))
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "UnknownWordsGuard":
        merged = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as directory:
                words = json.loads((directory / _VOCABULARY_FILE).read_text())
        except (ValueError, OSError):
            logger.warning("UnknownWordsGuard: no trained vocabulary; the guard is off.")
            return cls(merged, model_storage, resource)
        return cls(merged, model_storage, resource, Vocabulary(words, merged["fuzzy_min_length"]))

    def process(self, messages: List[Message]) -> List[Message]:
        if self.vocabulary is None:
            return messages
        cap = float(self.config["max_confidence"])
        for message in messages:
            intent = message.get(INTENT)
            if not intent or self.vocabulary.knows_any(_token_texts(message)):
                continue
            top = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
            if top <= cap:
                continue
            scale = cap / top
            message.set(INTENT, {**intent, PREDICTED_CONFIDENCE_KEY: top * scale}, add_to_output=True)
            ranking = message.get(INTENT_RANKING_KEY) or []
            message.set(INTENT_RANKING_KEY, [
                {**r, PREDICTED_CONFIDENCE_KEY: float(r.get(PREDICTED_CONFIDENCE_KEY) or 0.0) * scale}
                for r in ranking], add_to_output=True)
        return messages
