"""Settings of the broadcasts service: one frozen dataclass, read once from the environment."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

#: Price per delivered template message, by category then country calling code ("*" = any other).
DEFAULT_PRICES: Dict[str, Dict[str, float]] = {
    "marketing": {"91": 0.0107, "1": 0.025, "44": 0.0529, "*": 0.05},
    "utility": {"91": 0.0014, "1": 0.004, "44": 0.022, "*": 0.01},
}


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment (see broadcasts/README.md)."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    mongo_url: str = "mongodb://127.0.0.1:27017/"
    mongo_db: str = "parley"
    host: str = "127.0.0.1"
    port: int = 8789
    default_region: str = "IN"
    graph_url: str = "https://graph.facebook.com/v23.0"
    access_token: str = ""
    phone_number_id: str = ""
    waba_id: str = ""
    default_rate: float = 80.0
    sender_mps: float = 80.0
    worker_concurrency: int = 64
    # Prometheus endpoint of a `python -m broadcasts worker` process (0 = none; the API process
    # has /metrics on its own port).
    worker_metrics_port: int = 0
    worker_metrics_host: str = "127.0.0.1"
    send_lease_seconds: float = 30.0
    queue_reclaim_ms: int = 30_000
    attribution_hours: float = 72.0
    stuck_sent_minutes: float = 60.0
    frequency_cap: int = 2
    frequency_days: float = 7.0
    template_sync_seconds: float = 300.0
    maintenance_seconds: float = 1.0
    reminder_seconds: float = 10.0
    import_batch: int = 1000
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: DEFAULT_PRICES)
    consumer_name: str = "broadcasts-1"
    # Accounts are handoff's (one login for both consoles): its agents database and the secret
    # its session and token hashes are keyed with. The API refuses to start without the secret.
    secret_key: str = ""
    accounts_db: str = "parley"
    login_url: str = ""        # handoff's login page; "" = this host, port handoff_port
    handoff_port: int = 8788
    # CRM webhooks (broadcasts/crm): per-attempt timeout, waits between attempts, attempts in all.
    crm_timeout_seconds: float = 5.0
    crm_retry_schedule: Tuple[float, ...] = (10.0, 30.0, 120.0, 600.0, 3600.0, 10800.0, 21600.0)
    crm_max_attempts: int = 8
    crm_concurrency: int = 32
    crm_per_endpoint: int = 4
    crm_poll_seconds: float = 0.5

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None, **overrides: Any) -> "Settings":
        """Build from ``BROADCASTS_*`` and the shared variables of docs/contracts.md (``REDIS_URL``,
        ``MONGODB_URL``, ``MONGODB_DB``, ``GRAPH_BASE_URL``, ``GRAPH_VERSION``, ``WHATSAPP_*``)."""
        e = dict(os.environ if env is None else env)
        prices = e.get("BROADCASTS_PRICES")
        graph = e.get("GRAPH_BASE_URL")
        values: Dict[str, Any] = dict(
            redis_url=e.get("REDIS_URL", cls.redis_url),
            mongo_url=e.get("MONGODB_URL", cls.mongo_url),
            mongo_db=e.get("BROADCASTS_MONGO_DB", e.get("MONGODB_DB", cls.mongo_db)),
            host=e.get("BROADCASTS_HOST", cls.host),
            port=int(e.get("BROADCASTS_PORT", cls.port)),
            default_region=e.get("BROADCASTS_DEFAULT_REGION", cls.default_region),
            graph_url=f"{graph.rstrip('/')}/{e.get('GRAPH_VERSION', 'v23.0')}" if graph else cls.graph_url,
            access_token=e.get("WHATSAPP_ACCESS_TOKEN", ""),
            phone_number_id=e.get("WHATSAPP_PHONE_NUMBER_ID", ""),
            waba_id=e.get("WHATSAPP_WABA_ID", ""),
            default_rate=float(e.get("BROADCASTS_RATE", cls.default_rate)),
            sender_mps=float(e.get("BROADCASTS_SENDER_MPS", cls.sender_mps)),
            worker_concurrency=int(e.get("BROADCASTS_WORKER_CONCURRENCY", cls.worker_concurrency)),
            worker_metrics_port=int(e.get("BROADCASTS_WORKER_METRICS_PORT") or cls.worker_metrics_port),
            worker_metrics_host=e.get("BROADCASTS_WORKER_METRICS_HOST") or cls.worker_metrics_host,
            send_lease_seconds=float(e.get("BROADCASTS_SEND_LEASE_S", cls.send_lease_seconds)),
            queue_reclaim_ms=int(e.get("BROADCASTS_QUEUE_RECLAIM_MS", cls.queue_reclaim_ms)),
            attribution_hours=float(e.get("BROADCASTS_ATTRIBUTION_HOURS", cls.attribution_hours)),
            stuck_sent_minutes=float(e.get("BROADCASTS_STUCK_SENT_MIN", cls.stuck_sent_minutes)),
            frequency_cap=int(e.get("BROADCASTS_FREQUENCY_CAP", cls.frequency_cap)),
            frequency_days=float(e.get("BROADCASTS_FREQUENCY_DAYS", cls.frequency_days)),
            reminder_seconds=float(e.get("BROADCASTS_REMINDER_INTERVAL_S", cls.reminder_seconds)),
            consumer_name=e.get("BROADCASTS_CONSUMER", f"broadcasts-{os.getpid()}"),
            secret_key=e.get("HANDOFF_SECRET_KEY", ""),
            accounts_db=e.get("MONGODB_DB", cls.accounts_db),
            login_url=e.get("BROADCASTS_LOGIN_URL", ""),
            handoff_port=int(e.get("HANDOFF_PORT", cls.handoff_port)),
            crm_timeout_seconds=float(e.get("BROADCASTS_CRM_TIMEOUT_S", cls.crm_timeout_seconds)),
            crm_retry_schedule=retry_schedule(e.get("BROADCASTS_CRM_RETRY_SCHEDULE"), cls.crm_retry_schedule),
            crm_max_attempts=int(e.get("BROADCASTS_CRM_MAX_ATTEMPTS", cls.crm_max_attempts)),
            crm_concurrency=int(e.get("BROADCASTS_CRM_CONCURRENCY", cls.crm_concurrency)),
            crm_per_endpoint=int(e.get("BROADCASTS_CRM_PER_ENDPOINT", cls.crm_per_endpoint)),
        )
        if prices:
            values["prices"] = json.loads(open(prices).read() if prices.endswith(".json") else prices)
        values.update(overrides)
        return cls(**values)


def retry_schedule(text: Optional[str], default: Tuple[float, ...]) -> Tuple[float, ...]:
    """``"10,30,120"`` -> waits in seconds before attempts 2, 3, 4, ... (the last one repeats)."""
    if not text:
        return default
    try:
        waits = tuple(float(part) for part in text.split(","))
    except ValueError:
        waits = ()
    if not waits or min(waits) < 0:
        raise ValueError(f"BROADCASTS_CRM_RETRY_SCHEDULE must be comma-separated seconds, got {text!r}")
    return waits
