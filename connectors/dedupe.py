"""Idempotency claims in Redis, so a Meta retry or a replayed stream entry has no second effect.

Two shapes:

* :func:`emit_once`: claim + effect in one Lua script (``SET NX`` then ``XADD``), for effects that
  are a single stream append (status events, template updates...). Atomic, so nothing to undo.
* :func:`claim` / :func:`complete` / :func:`release`: a two-phase claim for inbound messages,
  whose effect (Rasa handling) happens outside Redis. The claim's value is the *token* of the
  work item (its partition stream entry id) until :func:`complete` marks it ``done``. A crash
  leaves the token in place; when the same entry is redelivered, :func:`claim` answers
  ``RESUMED`` and the work is retried, while any other copy of the wamid is a ``DUPLICATE``.
  :func:`release` drops the claim when processing failed before its effect was durable.
"""
from __future__ import annotations

import enum
from typing import Any, List, Mapping

#: Meta retries for up to 7 days; keep claims a day longer.
CLAIM_TTL_S = 8 * 24 * 3600
DONE = "done"

_CLAIM = """
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
if v == ARGV[1] then return 2 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
EMIT_ONCE_SCRIPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  local args = {}
  for i = 2, #ARGV do args[#args + 1] = ARGV[i] end
  redis.call('XADD', KEYS[2], '*', unpack(args))
  return 1
end
return 0
"""


class Claim(enum.IntEnum):
    DUPLICATE = 0  # another copy already handled (or is handling) this wamid
    NEW = 1
    RESUMED = 2  # this very work item was claimed before and never completed (a crash)


async def claim(redis: Any, key: str, token: str, ttl_s: int = CLAIM_TTL_S) -> Claim:
    """Claim ``key`` for the work item ``token``."""
    return Claim(int(await redis.eval(_CLAIM, 1, key, token, ttl_s)))


async def complete(redis: Any, key: str, ttl_s: int = CLAIM_TTL_S) -> None:
    """Mark the claim's effect as durable: later copies are duplicates forever (until the TTL)."""
    await redis.set(key, DONE, ex=ttl_s)


async def release(redis: Any, key: str, token: str) -> bool:
    """Undo ``token``'s claim so a retry can process the item again; True when it was ours."""
    return bool(await redis.eval(_RELEASE, 1, key, token))


async def emit_once(
    redis: Any, claim_key: str, stream: str, fields: Mapping[str, str], ttl_s: int = CLAIM_TTL_S
) -> bool:
    """Append ``fields`` to ``stream`` unless ``claim_key`` was claimed before; True if appended."""
    flat: List[str] = []
    for k, v in fields.items():
        flat.extend((k, v))
    return bool(await redis.eval(EMIT_ONCE_SCRIPT, 2, claim_key, stream, ttl_s, *flat))
