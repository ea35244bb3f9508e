"""Authentication: argon2 password hashes, console sessions in Redis, hashed API tokens and
login rate limiting. Framework-free; the API layer reads cookies and headers and calls this."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from typing import Any, Optional, Tuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from handoff import keys
from handoff.access import Caller
from handoff.errors import TooManyRequests, Unauthorized
from handoff.models import Agent, Role
from handoff.store.base import AgentStore

TOKEN_PREFIX = "pht_"


class Passwords:
    """argon2id hashing (argon2-cffi's defaults unless told otherwise: 64 MiB, 3 passes)."""

    def __init__(self, memory_kib: int = 65536, time_cost: int = 3) -> None:
        self._hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost)
        # Unknown emails are checked against this, so a login takes as long either way.
        self._dummy = self._hasher.hash("not a password of anyone")

    def hash(self, password: str) -> str:
        if len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        return self._hasher.hash(password)

    def verify(self, password_hash: Optional[str], password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and \
                password_hash is not None
        except (VerificationError, InvalidHashError):
            return False


class Authenticator:
    def __init__(self, redis: Any, agents: AgentStore, secret_key: str, *,
                 session_seconds: int = 12 * 3600, max_failures: int = 5,
                 failure_window_s: int = 900, passwords: Optional[Passwords] = None) -> None:
        self._redis = redis
        self.passwords = passwords or Passwords()
        self._agents = agents
        self._secret = secret_key.encode()
        self._session_seconds = session_seconds
        self._max_failures = max_failures
        self._failure_window_s = failure_window_s

    def digest(self, value: str) -> str:
        """Keyed hash of a session id or API token: what is stored, never the value itself."""
        return hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()

    # Console logins --------------------------------------------------------------------------
    async def login(self, email: str, password: str, ip: str) -> Tuple[Agent, str, str]:
        """Check the password; return (agent, session id, csrf token). Too many failures for
        this (email, IP) in the window -> TooManyRequests, before checking anything."""
        counter = keys.login_failures(email, ip)
        # Count the attempt BEFORE checking the password (one atomic INCR): reading the counter
        # first and incrementing after the slow argon2 check let a burst of parallel guesses
        # all pass the check (tests/security/test_login_bruteforce.py).
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(counter)
            pipe.ttl(counter)
            attempts, ttl = await pipe.execute()
        if int(attempts) > self._max_failures:
            if int(ttl) < 0:
                await self._redis.expire(counter, self._failure_window_s)
            raise TooManyRequests("too many failed logins; try again later",
                                  retry_after=max(int(ttl), 1))
        await self._redis.expire(counter, self._failure_window_s)
        agent = await self._agents.by_email(email) if email else None
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, self.passwords.verify,
                                        agent.password_hash if agent else None, password)
        if not ok or agent is None or not agent.active:
            raise Unauthorized("wrong email or password")  # the attempt is already counted
        await self._redis.delete(counter)
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        key = keys.session(self.digest(session_id))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"agent": agent.id, "role": agent.role.value, "csrf": csrf})
            pipe.expire(key, self._session_seconds)
            await pipe.execute()
        return agent, session_id, csrf

    async def session(self, session_id: str) -> Tuple[Caller, str]:
        """The caller and csrf token of a session cookie; Unauthorized if unknown or expired.
        The role is re-read from the store so a demotion takes effect at once."""
        digest = self.digest(session_id)
        fields = await self._redis.hgetall(keys.session(digest)) if session_id else {}
        if not fields:
            raise Unauthorized("please log in")
        text = {_s(k): _s(v) for k, v in fields.items()}
        agent = await self._agents.get(text["agent"])
        if agent is None or not agent.active:
            await self._redis.delete(keys.session(digest))
            raise Unauthorized("please log in")
        return Caller(agent.id, agent.role, "session", digest), text["csrf"]

    async def logout(self, caller: Caller) -> None:
        if caller.session:
            await self._redis.delete(keys.session(caller.session))

    # REST API tokens -------------------------------------------------------------------------
    async def issue_token(self, agent_id: str, label: str) -> str:
        """A new bearer token for `agent_id`; shown once, only its keyed hash is stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self._agents.add_token(self.digest(token), agent_id, label)
        return token

    async def bearer(self, token: str) -> Caller:
        agent_id = await self._agents.agent_for_token(self.digest(token)) if token else None
        agent = await self._agents.get(agent_id) if agent_id else None
        if agent is None or not agent.active:
            raise Unauthorized("invalid API token")
        return Caller(agent.id, agent.role, "token")

    # Agents ----------------------------------------------------------------------------------
    async def create_agent(self, agent_id: str, email: str, name: str, role: Role, password: str,
                           capacity: int = 5) -> Agent:
        loop = asyncio.get_running_loop()
        password_hash = await loop.run_in_executor(None, self.passwords.hash, password)
        agent = Agent(agent_id, email.lower(), name or agent_id, role, password_hash,
                      capacity=capacity)
        await self._agents.create(agent)
        return agent

    async def ensure_admin(self, email: str, password: str) -> Optional[Agent]:
        """Bootstrap: create the admin from settings if no agent has this email."""
        if not email or not password or await self._agents.by_email(email):
            return None
        return await self.create_agent("admin", email, "Administrator", Role.ADMIN, password)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
