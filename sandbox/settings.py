"""Start-up settings of the sandbox, read once from the environment.

``Settings.from_env()`` is the only place in the package that reads ``os.environ``. Every
value has a default (see ``sandbox/README.md`` for the table), so ``python -m sandbox`` runs
with no configuration at all. Runtime-changeable values are copied into ``RuntimeConfig``
(``sandbox.config``) and can be changed with ``PATCH /_sandbox/config``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """An environment variable has a value the sandbox cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the sandbox needs to start. Frozen: runtime changes live in RuntimeConfig."""

    host: str = "127.0.0.1"
    port: int = 8787
    public_url: str = ""
    access_token: str = "sandbox-token"
    app_secret: str = "sandbox-secret"
    verify_token: str = "sandbox-verify"
    webhook_url: str = ""
    phone_number_id: str = "100000000000001"
    display_phone_number: str = "15550000001"
    waba_id: str = "200000000000001"
    api_version: str = "v23.0"
    throughput_mps: float = 80.0
    rate_limit_http_status: int = 400
    pair_rate: bool = True
    pair_burst: int = 45
    pair_interval_ms: int = 6000
    status_delays_ms: tuple[int, int, int] = (200, 600, 1500)
    read_probability: float = 0.9
    window_seconds: int = 86400
    unreachable: tuple[str, ...] = ()
    marketing_opted_out: tuple[str, ...] = ()
    ecosystem_limited: tuple[str, ...] = ()
    chaos_duplicate: float = 0.0
    chaos_reorder: float = 0.0
    chaos_batch: float = 0.0
    chaos_send_5xx: float = 0.0
    chaos_send_timeout: float = 0.0
    chaos_timeout_ms: int = 15000
    webhook_retry_base_ms: int = 500
    webhook_retry_cap_ms: int = 60000
    webhook_max_attempts: int = 12
    webhook_timeout_ms: int = 5000
    webhook_concurrency: int = 16
    template_review_ms: int = 300
    template_auto_approve: bool = True
    handshake_attempts: int = 5
    handshake_retry_ms: int = 1000
    history_limit: int = 20000
    max_request_mb: int = 32
    seed: int | None = None
    log_level: str = "INFO"

    @property
    def base_url(self) -> str:
        """Where clients reach this sandbox (used in media download URLs and paging links)."""
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build the settings from ``SANDBOX_*`` variables; raise SettingsError on bad values."""
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        default = cls()
        return cls(
            host=reader.text("HOST", default.host),
            port=reader.integer("PORT", default.port),
            public_url=reader.text("PUBLIC_URL", default.public_url),
            access_token=reader.secret("ACCESS_TOKEN", default.access_token),
            app_secret=reader.secret("APP_SECRET", default.app_secret),
            verify_token=reader.secret("VERIFY_TOKEN", default.verify_token),
            webhook_url=reader.text("WEBHOOK_URL", default.webhook_url),
            phone_number_id=reader.digits("PHONE_NUMBER_ID", default.phone_number_id),
            display_phone_number=reader.digits("DISPLAY_PHONE_NUMBER", default.display_phone_number),
            waba_id=reader.digits("WABA_ID", default.waba_id),
            api_version=reader.text("API_VERSION", default.api_version),
            throughput_mps=reader.number("THROUGHPUT_MPS", default.throughput_mps),
            rate_limit_http_status=reader.integer("RATE_LIMIT_HTTP_STATUS", default.rate_limit_http_status),
            pair_rate=reader.flag("PAIR_RATE", default.pair_rate),
            pair_burst=reader.integer("PAIR_BURST", default.pair_burst),
            pair_interval_ms=reader.integer("PAIR_INTERVAL_MS", default.pair_interval_ms),
            status_delays_ms=reader.delays("STATUS_DELAYS_MS", default.status_delays_ms),
            read_probability=reader.probability("READ_PROBABILITY", default.read_probability),
            window_seconds=reader.integer("WINDOW_SECONDS", default.window_seconds),
            unreachable=reader.id_list("UNREACHABLE"),
            marketing_opted_out=reader.id_list("MARKETING_OPTED_OUT"),
            ecosystem_limited=reader.id_list("ECOSYSTEM_LIMITED"),
            chaos_duplicate=reader.probability("CHAOS_DUPLICATE", 0.0),
            chaos_reorder=reader.probability("CHAOS_REORDER", 0.0),
            chaos_batch=reader.probability("CHAOS_BATCH", 0.0),
            chaos_send_5xx=reader.probability("CHAOS_SEND_5XX", 0.0),
            chaos_send_timeout=reader.probability("CHAOS_SEND_TIMEOUT", 0.0),
            chaos_timeout_ms=reader.integer("CHAOS_TIMEOUT_MS", default.chaos_timeout_ms),
            webhook_retry_base_ms=reader.integer("WEBHOOK_RETRY_BASE_MS", default.webhook_retry_base_ms),
            webhook_retry_cap_ms=reader.integer("WEBHOOK_RETRY_CAP_MS", default.webhook_retry_cap_ms),
            webhook_max_attempts=reader.integer("WEBHOOK_MAX_ATTEMPTS", default.webhook_max_attempts),
            webhook_timeout_ms=reader.integer("WEBHOOK_TIMEOUT_MS", default.webhook_timeout_ms),
            webhook_concurrency=reader.integer("WEBHOOK_CONCURRENCY", default.webhook_concurrency),
            template_review_ms=reader.integer("TEMPLATE_REVIEW_MS", default.template_review_ms),
            template_auto_approve=reader.flag("TEMPLATE_AUTO_APPROVE", default.template_auto_approve),
            handshake_attempts=reader.integer("HANDSHAKE_ATTEMPTS", default.handshake_attempts),
            handshake_retry_ms=reader.integer("HANDSHAKE_RETRY_MS", default.handshake_retry_ms),
            history_limit=reader.integer("HISTORY_LIMIT", default.history_limit),
            max_request_mb=reader.integer("MAX_REQUEST_MB", default.max_request_mb),
            seed=reader.optional_integer("SEED"),
            log_level=reader.text("LOG_LEVEL", default.log_level).upper(),
        )


class _Reader:
    """Typed access to ``SANDBOX_<NAME>`` variables with clear error messages."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def _raw(self, name: str) -> str | None:
        value = self._env.get(f"SANDBOX_{name}")
        return None if value is None or value.strip() == "" else value.strip()

    def _fail(self, name: str, value: str, expected: str) -> SettingsError:
        return SettingsError(f"SANDBOX_{name}={value!r}: expected {expected}")

    def text(self, name: str, default: str) -> str:
        return self._raw(name) or default

    def secret(self, name: str, default: str) -> str:
        value = self._env.get(f"SANDBOX_{name}")
        if value is not None and value.strip() == "":
            raise SettingsError(f"SANDBOX_{name} is set but empty; unset it or give a value")
        return default if value is None else value.strip()

    def digits(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not value.isdigit():
            raise self._fail(name, value, "digits only")
        return value

    def integer(self, name: str, default: int) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise self._fail(name, value, "an integer") from None

    def optional_integer(self, name: str) -> int | None:
        value = self._raw(name)
        return None if value is None else self.integer(name, 0)

    def number(self, name: str, default: float) -> float:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise self._fail(name, value, "a number") from None
        if number < 0:
            raise self._fail(name, value, "a number >= 0")
        return number

    def probability(self, name: str, default: float) -> float:
        number = self.number(name, default)
        if number > 1:
            raise self._fail(name, str(number), "a probability between 0 and 1")
        return number

    def flag(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise self._fail(name, value, "1/0 (or true/false)")

    def delays(self, name: str, default: tuple[int, int, int]) -> tuple[int, int, int]:
        value = self._raw(name)
        if value is None:
            return default
        parts = [part.strip() for part in value.split(",")]
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            raise self._fail(name, value, "three comma-separated millisecond values: sent,delivered,read")
        return (int(parts[0]), int(parts[1]), int(parts[2]))

    def id_list(self, name: str) -> tuple[str, ...]:
        value = self._raw(name)
        if value is None:
            return ()
        items = tuple(item.strip().lstrip("+") for item in value.split(",") if item.strip())
        for item in items:
            if not item.isdigit():
                raise self._fail(name, value, "comma-separated wa_ids (digits)")
        return items
