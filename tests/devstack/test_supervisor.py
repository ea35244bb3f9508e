"""Supervisor.kill / restart: the fault-injection API the fault tests (tests/faults) use."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from devstack import Supervisor, free_port, port_open, start_redis


def test_kill_then_restart_a_started_child(tmp_path: Path) -> None:
    supervisor = Supervisor(log_dir=tmp_path)
    port = free_port()
    try:
        supervisor.start("web", [sys.executable, "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                         env={"FAULT_MARK": "1"}, port=port)
        from devstack import wait_for_port
        wait_for_port("127.0.0.1", port, timeout=15)
        first = supervisor.child("web").process.pid
        assert supervisor.kill("web", signal.SIGKILL) == -signal.SIGKILL
        assert supervisor.first_dead() is not None and not port_open("127.0.0.1", port)
        child = supervisor.restart("web", timeout=15)
        assert child.process.pid != first and child.restarts == 1 and child.env["FAULT_MARK"] == "1"
        assert port_open("127.0.0.1", port) and supervisor.first_dead() is None
        # Restarting a running child stops it first.
        assert supervisor.restart("web", timeout=15).restarts == 2
        assert len([c for c in supervisor.children if c.name == "web"]) == 1
    finally:
        supervisor.stop_all(grace=5)
    assert not port_open("127.0.0.1", port)


def test_restart_an_adopted_store_through_its_factory(tmp_path: Path) -> None:
    supervisor = Supervisor()
    port = free_port()
    supervisor.adopt("redis", start_redis(port, tmp_path, aof=True), port=port,
                     factory=lambda: start_redis(port, tmp_path, aof=True))
    supervisor.adopt("plain", start_redis(free_port()))
    try:
        supervisor.kill("redis", signal.SIGTERM)
        assert not port_open("127.0.0.1", port)
        supervisor.restart("redis")
        assert port_open("127.0.0.1", port)
        with pytest.raises(ValueError):
            supervisor.restart("plain")
        with pytest.raises(KeyError):
            supervisor.kill("nobody")
    finally:
        supervisor.stop_all(grace=5)
