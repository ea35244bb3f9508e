"""Fault injection: a private platform whose processes and stores the tests kill and restart.

The suite's session ``platform`` is shared and must never see a crash, so this folder starts
its own (``platform`` here overrides it, package scope, so the plugin's log sections still
attach to failing tests): everything ``devstack.start_platform`` starts, with handoff and
broadcasts, plus its OWN stores so they can be stopped: a redis-server with AOF in a private
data dir and a private MongoDB-compatible server (both restartable through the Supervisor).

Every test leaves the platform as it found it: the autouse ``restore`` fixture restarts
whatever a test left dead and puts the sandbox's config back.
"""
from __future__ import annotations

import dataclasses
import shutil
import time
from typing import Any, Dict, Iterator, List

import pytest

from devstack import Supervisor, free_port, start_mongo, start_redis
from devstack.services import start_platform
from tests.plugins.platform import READY_TIMEOUT_S, Platform, _settings, process_logs

#: Sandbox settings a test may change; `restore` puts these back after every test.
CHAOS_KEYS = ("chaos", "throughput_mps", "webhook_retry_base_ms", "webhook_retry_cap_ms",
              "webhook_max_attempts", "chaos_timeout_ms", "rate_limit_http_status", "pair_rate")


class FaultPlatform(Platform):
    """A :class:`Platform` plus process control (Supervisor.kill / restart)."""

    def kill(self, name: str, sig: int = 9) -> int:
        return self.supervisor.kill(name, sig)

    def restart(self, name: str, timeout: float = 180.0) -> None:
        """Start `name` again (after a kill, or stop it first) and wait until it serves."""
        self.supervisor.restart(name, timeout=timeout)
        if name in ("redis",) and self._redis is not None:
            self._redis.connection_pool.disconnect()

    def revive(self) -> List[str]:
        """Restart every process that has exited; returns their names."""
        dead = self.dead()
        for name in dead:
            self.restart(name)
        return dead


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultPlatform]:
    data_dir = tmp_path_factory.mktemp("faults")
    settings = _settings(data_dir, "", services=True)
    # Meta retries a failed webhook for days; the suite's sandbox gives up after 12 attempts
    # (~8 s), shorter than a rasa restart. Retry (every <= 1 s) for ~3 minutes here.
    settings = dataclasses.replace(settings, sandbox_env=settings.sandbox_env + (
        ("SANDBOX_WEBHOOK_MAX_ATTEMPTS", "200"),))
    if settings.bot_python is None:
        pytest.skip("the bot env is not built (PARLEY_BOT_PYTHON unset or missing: run `make env-bot`)")
    (data_dir / "logs").mkdir()
    supervisor = Supervisor(log_dir=data_dir / "logs")
    try:
        redis_port, mongo_port = free_port(), free_port()
        redis_dir, mongo_dir = data_dir / "redis", data_dir / "mongo"
        supervisor.adopt("redis", start_redis(redis_port, redis_dir, aof=True), port=redis_port,
                         factory=lambda: start_redis(redis_port, redis_dir, aof=True))
        supervisor.adopt("mongodb", start_mongo(mongo_port, mongo_dir), port=mongo_port,
                         factory=lambda: start_mongo(mongo_port, mongo_dir))
        settings = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{redis_port}/0",
                                       mongodb_url=f"mongodb://127.0.0.1:{mongo_port}/")
        # A SIGKILLed broadcasts worker's queue entries are reclaimed after this idle time
        # (default 30 s); shorter here so the kill test fits the folder's time budget.
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("BROADCASTS_QUEUE_RECLAIM_MS", "5000")
            running = FaultPlatform(start_platform(settings, supervisor), supervisor)
        warmup = running.new_customer("Warm Up")
        assert warmup.ask("hi", timeout=READY_TIMEOUT_S), "the bot did not answer the warm-up 'hi'"
    except BaseException as exc:
        logs = process_logs(supervisor, {})
        supervisor.stop_all(grace=5)
        if not isinstance(exc, Exception):
            raise
        details = "\n".join(f"--- {name} ---\n{text[-4000:]}" for name, text in logs.items())
        raise RuntimeError(f"the fault platform did not start: {exc!r}\n{details}") from exc
    yield running
    running.close()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def restore(platform: FaultPlatform) -> Iterator[None]:
    """Whatever a test kills or reconfigures is back before the next test."""
    config: Dict[str, Any] = platform.sandbox.get("/_sandbox/config")
    saved = {key: config[key] for key in CHAOS_KEYS if key in config}
    redis_restarts = platform.supervisor.child("redis").restarts
    yield
    platform.revive()
    if platform.supervisor.child("redis").restarts != redis_restarts:
        # rasa's tracker store keeps stale pooled Redis connections after a Redis restart and
        # silently saves turns to memory instead (see test_store_outages): start it afresh so
        # the next test does not inherit that.
        platform.restart("rasa")
        warmup = platform.new_customer("Warm Up")
        assert warmup.ask("hi", timeout=READY_TIMEOUT_S), "rasa did not answer after its restart"
    platform.sandbox.configure(**saved)
    time.sleep(0.2)
