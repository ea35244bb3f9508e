"""Small socket helpers."""
from __future__ import annotations

import socket
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 30.0, process: object = None) -> None:
    """Wait until host:port accepts connections; fail early if `process` (a Popen) exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if process is not None and process.poll() is not None:  # type: ignore[attr-defined]
            raise RuntimeError(f"process exited with {process.returncode} before {host}:{port} opened")  # type: ignore[attr-defined]
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open within {timeout:.0f} s")
