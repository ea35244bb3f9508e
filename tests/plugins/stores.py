"""Fixtures for the real stores: a Redis server and a MongoDB-compatible server per test session.

Both are started as child processes on free ports, so tests never touch a developer's data and
never collide with another test run. Standard library + pytest only: used from both envs.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from devstack import free_port, start_mongo, start_redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server for this session: `redis://127.0.0.1:<port>`."""
    port = free_port()
    process = start_redis(port)
    yield f"redis://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def _redis_command(url: str, *args: str) -> bytes:
    """Send one RESP command over a raw socket (no client library: works in both envs)."""
    host, port = url.split("//")[1].split(":")
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(payload)
        return sock.recv(1024)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """A flushed Redis database, isolated from every other test."""
    assert _redis_command(redis_server, "FLUSHALL").startswith(b"+OK")
    return f"{redis_server}/0"


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The MongoDB-compatible server (SecantusDB) for this session, as a separate process."""
    port = free_port()
    data_dir: Path = tmp_path_factory.mktemp("mongo")
    process = start_mongo(port, data_dir)
    yield f"mongodb://127.0.0.1:{port}/"
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def mongo_db_name() -> str:
    """A database name no other test uses."""
    return f"t_{uuid.uuid4().hex[:12]}"
