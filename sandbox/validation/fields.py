"""Small typed accessors that raise Meta-shaped errors with Meta-style parameter paths.

Paths are written the way Meta writes them in ``error_data.details``, e.g.
``interactive['action']['buttons'][0]['reply']['title']``.
"""
from __future__ import annotations

import re
from typing import Any

from ..errors import GraphError

_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def child(path: str, key: str | int) -> str:
    """``text`` + ``body`` -> ``text['body']``; ints become ``[0]``."""
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}['{key}']"


def missing(path: str) -> GraphError:
    return GraphError(131008, f"The parameter {path} is required.")


def invalid(path: str, why: str) -> GraphError:
    return GraphError(131009, f"Param {path} is invalid: {why}")


def too_long(path: str, limit: int) -> GraphError:
    return GraphError(100, f"Param {path} must be at most {limit} characters long.")


def require_obj(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = parent.get(key)
    where = child(path, key) if path else key
    if value is None:
        raise missing(where)
    if not isinstance(value, dict):
        raise GraphError(100, f"Param {where} must be a JSON object.")
    return value


def optional_obj(parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    if parent.get(key) is None:
        return None
    return require_obj(parent, key, path)


def require_list(parent: dict[str, Any], key: str, path: str) -> list[Any]:
    value = parent.get(key)
    where = child(path, key) if path else key
    if value is None:
        raise missing(where)
    if not isinstance(value, list):
        raise GraphError(100, f"Param {where} must be an array.")
    return value


def require_str(
    parent: dict[str, Any], key: str, path: str, *, limit: int | None = None, allow_empty: bool = False
) -> str:
    value = parent.get(key)
    where = child(path, key) if path else key
    if value is None:
        raise missing(where)
    return check_str(value, where, limit=limit, allow_empty=allow_empty)


def optional_str(parent: dict[str, Any], key: str, path: str, *, limit: int | None = None) -> str | None:
    if parent.get(key) is None:
        return None
    return require_str(parent, key, path, limit=limit, allow_empty=True)


def check_str(value: Any, where: str, *, limit: int | None = None, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise GraphError(100, f"Param {where} must be a string.")
    if not allow_empty and not value.strip():
        raise invalid(where, "must not be empty")
    if limit is not None and len(value) > limit:
        raise too_long(where, limit)
    return value


def check_url(value: str, where: str) -> str:
    if not _URL.match(value) or len(value) > 2000:
        raise invalid(where, "must be an http(s) URL of at most 2000 characters")
    return value


def check_number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or value is None:
        raise missing(where) if value is None else GraphError(100, f"Param {where} must be a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise GraphError(100, f"Param {where} must be a number.") from None
    if not low <= number <= high:
        raise invalid(where, f"must be between {low:g} and {high:g}")
    return number


def check_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise GraphError(100, f"Param {where} must be a boolean.")
    return value


def one_of(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise GraphError(100, f"Param {where} must be one of {{{', '.join(allowed)}}} - got \"{value}\".")
    return value
