"""The test process's own guards (tests/conftest.py) keep pytest able to report a failure."""
from __future__ import annotations

import ast
import gc
import sys
import typing

import pytest


class _ParsesWhenCollected:
    """A garbage cycle whose finalizer parses source, as asyncio's "Task exception was never
    retrieved" report does on CPython 3.11 (its traceback module parses lines for the carets)."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        ast.parse("reply = render(message) or fallback(message)")


def test_a_finalizer_parsing_during_a_parse_does_not_break_the_outer_parse():
    """Without the guard this fails on every iteration on 3.11.7 ("AST constructor recursion depth
    mismatch", python/cpython#106905): the collector runs the finalizer inside the outer parse."""
    source = open(typing.__file__).read()
    threshold = gc.get_threshold()
    gc.set_threshold(10)
    try:
        for _ in range(5):
            for _ in range(50):
                _ParsesWhenCollected()
            assert isinstance(ast.parse(source), ast.Module)
    finally:
        gc.set_threshold(*threshold)
        gc.collect()


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the CPython bug is 3.11's")
def test_the_guard_is_installed():
    assert getattr(ast.parse, "_parley_serialized", False)
