"""The handoff service's settings, read once from the environment (see handoff/README.md)."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Mapping, Optional

BOT_RESUME_MODES = ("rasa_api", "inbound_stream", "off")
AUTO_ASSIGN_MODES = ("off", "round_robin", "least_loaded")


class SettingsError(ValueError):
    """A missing or invalid setting; the service refuses to start."""


@dataclass(frozen=True)
class Settings:
    secret_key: str
    host: str = "127.0.0.1"
    port: int = 8788
    redis_url: str = "redis://127.0.0.1:6379/0"
    mongodb_url: str = "mongodb://127.0.0.1:27017/"
    mongodb_db: str = "parley"
    graph_base_url: str = "https://graph.facebook.com"
    graph_version: str = "v23.0"
    access_token: str = ""
    phone_number_id: str = ""
    waba_id: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    bot_resume: str = "rasa_api"           # how the bot learns the human stretch ended
    queue_timeout_minutes: float = 30.0    # queued longer -> timed_out (0: never)
    timeout_check_seconds: float = 30.0
    auto_assign: str = "off"               # off | round_robin | least_loaded
    assign_interval_seconds: float = 2.0   # sweep at least this often (agents coming online)
    queue_notice: bool = False             # tell queued customers their place and wait
    admin_email: str = ""
    admin_password: str = ""
    session_hours: float = 12.0
    cookie_secure: bool = False            # set true behind HTTPS
    login_max_failures: int = 5
    login_window_seconds: int = 900
    argon2_memory_kib: int = 65536
    argon2_time_cost: int = 3
    consumer_name: str = "handoff"
    templates_cache_seconds: float = 300.0
    run_consumers: bool = True

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "Settings":
        env = os.environ if env is None else env
        secret = env.get("HANDOFF_SECRET_KEY", "")
        if len(secret) < 16:
            raise SettingsError("HANDOFF_SECRET_KEY must be set to a random string of at least "
                                "16 characters (e.g. `python -c 'import secrets; "
                                "print(secrets.token_urlsafe(32))'`)")
        resume = env.get("HANDOFF_BOT_RESUME", "rasa_api")
        if resume not in BOT_RESUME_MODES:
            raise SettingsError(f"HANDOFF_BOT_RESUME must be one of {', '.join(BOT_RESUME_MODES)}")
        auto_assign = _auto_assign(env.get("HANDOFF_AUTO_ASSIGN", ""))
        return cls(
            secret_key=secret,
            host=env.get("HANDOFF_HOST", "127.0.0.1"),
            port=int(env.get("HANDOFF_PORT", "8788")),
            redis_url=env.get("REDIS_URL", cls.redis_url),
            mongodb_url=env.get("MONGODB_URL", cls.mongodb_url),
            mongodb_db=env.get("MONGODB_DB", "parley"),
            graph_base_url=env.get("GRAPH_BASE_URL", cls.graph_base_url),
            graph_version=env.get("GRAPH_VERSION", "v23.0"),
            access_token=env.get("WHATSAPP_ACCESS_TOKEN", ""),
            phone_number_id=env.get("WHATSAPP_PHONE_NUMBER_ID", ""),
            waba_id=env.get("WHATSAPP_WABA_ID") or env.get("WABA_ID", ""),
            rasa_url=env.get("RASA_URL", cls.rasa_url),
            rasa_token=env.get("RASA_TOKEN", ""),
            bot_resume=resume,
            queue_timeout_minutes=float(env.get("HANDOFF_QUEUE_TIMEOUT_MINUTES", "30")),
            timeout_check_seconds=float(env.get("HANDOFF_TIMEOUT_CHECK_SECONDS", "30")),
            auto_assign=auto_assign,
            assign_interval_seconds=float(env.get("HANDOFF_ASSIGN_INTERVAL_SECONDS", "2")),
            queue_notice=_flag(env["HANDOFF_QUEUE_NOTICE"]) if env.get("HANDOFF_QUEUE_NOTICE")
            else auto_assign != "off",
            admin_email=env.get("HANDOFF_ADMIN_EMAIL", ""),
            admin_password=env.get("HANDOFF_ADMIN_PASSWORD", ""),
            session_hours=float(env.get("HANDOFF_SESSION_HOURS", "12")),
            cookie_secure=_flag(env.get("HANDOFF_COOKIE_SECURE", "")),
            login_max_failures=int(env.get("HANDOFF_LOGIN_MAX_FAILURES", "5")),
            login_window_seconds=int(env.get("HANDOFF_LOGIN_WINDOW_SECONDS", "900")),
            argon2_memory_kib=int(env.get("HANDOFF_ARGON2_MEMORY_KIB", "65536")),
            argon2_time_cost=int(env.get("HANDOFF_ARGON2_TIME_COST", "3")),
            consumer_name=env.get("HANDOFF_CONSUMER_NAME") or f"handoff-{socket.gethostname()}",
        )


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _auto_assign(value: str) -> str:
    """A strategy name; a plain on/off flag means least_loaded/off."""
    mode = value.strip().lower()
    if mode in ("", "0", "false", "no"):
        return "off"
    if _flag(mode):
        return "least_loaded"
    if mode not in AUTO_ASSIGN_MODES:
        raise SettingsError(f"HANDOFF_AUTO_ASSIGN must be one of {', '.join(AUTO_ASSIGN_MODES)}")
    return mode
