"""The NLU guards in bot/components.py as plain functions (no model): what counts as a known word."""
from __future__ import annotations

import pytest

from bot.components import Vocabulary, clean

pytestmark = pytest.mark.bot

VOCABULARY = Vocabulary("hello helo hi yes okk nahi order delivery where is my 👍 a i aaya".split())


@pytest.mark.parametrize("token", [
    "hello", "HELLO", "ordr", "delivry", "hleo", "hellooo", "yess", "okkk", "nhi", "👍👍",
    "PS-10023", "560001", "9",
])
def test_words_typos_stretched_words_and_numbers_are_known(token):
    assert VOCABULARY.knows(token)


@pytest.mark.parametrize("token", [
    "asdfgh", "jkl", "hmm", "hmmm", "aaa", "xyz", "kjhkjh", "qwerty", "lol", "k", "😀😀😀",
])
def test_keyboard_mash_and_fillers_are_not(token):
    assert not VOCABULARY.knows(token)


def test_one_known_word_is_enough():
    assert VOCABULARY.knows_any(["asdf", "order"])
    assert not VOCABULARY.knows_any(["asdfgh", "jkl"])
    assert not VOCABULARY.knows_any([])


def test_4096_a_is_cut_to_a_run_of_three_unknown_letters():
    assert clean("a" * 4096) == "aaa" and not VOCABULARY.knows("aaa")
