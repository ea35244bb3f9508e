"""What the connector's ``/webhooks/whatsapp/readyz`` checks and ``/metrics`` samples (the routes
are added by the Rasa adapter through observability.http)."""
from __future__ import annotations

from typing import Any, Callable, List

from observability.health import Check, NotReady
from observability.metrics import Sampler, stream_sampler

from . import keys


def inbound_streams(partitions: int) -> List[str]:
    """The inbound pipeline's streams: raw bodies (messages, status-only), partitions, dead letters,
    and the events they feed."""
    return [keys.INBOUND_STREAM, keys.INBOUND_STATUS_STREAM, *(keys.inbound_partition(i) for i in range(partitions)),
            keys.INBOUND_DEAD_STREAM, keys.EVENTS_STREAM]


def checks(redis_of: Callable[[], Any], agent_of: Callable[[], Any]) -> List[Check]:
    """Redis (webhooks are stored there before the 200) and Rasa's agent in this process (model
    loaded). MongoDB is not one: it only receives finished sessions, written behind."""

    async def redis() -> Any:
        client = redis_of()
        if client is None:
            raise NotReady("starting")
        return await client.ping()

    async def rasa() -> bool:
        agent = agent_of()
        return agent is not None and bool(agent.is_ready())

    return [Check("redis", redis), Check("rasa", rasa)]


def samplers(redis_of: Callable[[], Any], partitions: int) -> List[Sampler]:
    client = redis_of()
    streams = inbound_streams(partitions)
    return [stream_sampler(client, lambda: streams)] if client is not None else []
