"""Ticket, transcript and agent stores: interfaces in `base`, backends `memory` and `mongo`."""
from handoff.store.base import AgentStore, TicketStore, TranscriptStore
from handoff.store.memory import MemoryAgentStore, MemoryTicketStore, MemoryTranscriptStore
from handoff.store.mongo import (MongoAgentStore, MongoTicketStore, MongoTranscriptStore,
                                 ensure_indexes)

__all__ = ["AgentStore", "TicketStore", "TranscriptStore", "MemoryAgentStore",
           "MemoryTicketStore", "MemoryTranscriptStore", "MongoAgentStore", "MongoTicketStore",
           "MongoTranscriptStore", "ensure_indexes"]
