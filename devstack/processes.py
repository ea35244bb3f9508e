"""A tiny process supervisor: start children in their own process groups, prefix their output
(or write it to one log file per child), and stop every one of them (and their children) on
Ctrl-C, SIGTERM or when one dies."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from devstack.lifetime import die_with_parent
from devstack.ports import wait_for_port


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    critical: bool = True
    pump: Optional[threading.Thread] = field(default=None, repr=False)
    log_path: Optional[Path] = None
    #: How to start it again (`Supervisor.restart`): the Popen arguments of `start`, or the
    #: factory given to `adopt`.
    args: Sequence[str] = ()
    env: Optional[Mapping[str, str]] = field(default=None, repr=False)
    cwd: Optional[str] = None
    factory: Optional[Callable[[], subprocess.Popen]] = field(default=None, repr=False)
    #: 127.0.0.1 port that accepts connections once it is up again after a restart.
    port: Optional[int] = None
    restarts: int = 0


class Supervisor:
    """Owns every process the dev runner starts; `stop_all` leaves nothing running.

    Output of started children goes to this process's stdout, prefixed with the child's name;
    with `log_dir` (tests), to `log_dir/<name>.log` instead.
    """

    def __init__(self, log_dir: Optional[Path] = None) -> None:
        self.children: List[Child] = []
        self.log_dir = log_dir
        self._stopping = threading.Event()

    def adopt(self, name: str, process: subprocess.Popen, critical: bool = True,
              factory: Optional[Callable[[], subprocess.Popen]] = None,
              port: Optional[int] = None) -> Child:
        """Track a process started elsewhere (e.g. Redis) so it is stopped with the rest;
        `factory` (starts it again, e.g. `lambda: start_redis(port, dir, aof=True)`) makes it
        restartable."""
        child = Child(name, process, critical, factory=factory, port=port)
        self.children.append(child)
        return child

    def start(self, name: str, args: Sequence[str], env: Optional[Mapping[str, str]] = None,
              cwd: Optional[str] = None, critical: bool = True, port: Optional[int] = None) -> Child:
        """Start `args` in a new session; its output goes to stdout prefixed with `name`, or to
        `log_dir/<name>.log`. `port`: where it listens (what `restart` waits for)."""
        full_env = {**os.environ, **(env or {})}  # a restart gets the same environment
        child = Child(name, self._spawn(name, args, full_env, cwd), critical,
                      args=tuple(args), env=full_env, cwd=cwd, port=port)
        self.children.append(child)
        self._attach(child)
        return child

    def _spawn(self, name: str, args: Sequence[str], env: Optional[Mapping[str, str]],
               cwd: Optional[str]) -> subprocess.Popen:
        log_path = self.log_dir / f"{name}.log" if self.log_dir is not None else None
        with open(log_path, "ab") if log_path is not None else contextlib.nullcontext() as log:
            process = subprocess.Popen(
                list(args), env=dict(env or os.environ), cwd=cwd,
                stdout=log if log is not None else subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent,
                text=True, bufsize=1, errors="replace",
            )
        return process

    def _attach(self, child: Child) -> None:
        child.log_path = self.log_dir / f"{child.name}.log" if self.log_dir is not None else None
        if child.log_path is None:
            child.pump = threading.Thread(target=self._pump, args=(child,), daemon=True)
            child.pump.start()

    # -- fault injection and recovery ------------------------------------------------------
    def child(self, name: str) -> Child:
        """The child called `name` (KeyError if there is none)."""
        for child in self.children:
            if child.name == name:
                return child
        raise KeyError(name)

    def kill(self, name: str, sig: int = signal.SIGKILL, timeout: float = 30.0) -> int:
        """Send `sig` to the process group of `name` and wait until its leader exits (and, for
        SIGKILL, reap the whole group); returns its exit code. It is not restarted."""
        child = self.child(name)
        _signal_group(child.process, sig)
        code = child.process.wait(timeout=timeout)
        if sig == signal.SIGKILL:
            _signal_group(child.process, signal.SIGKILL)  # grandchildren left in the group
        return code

    def restart(self, name: str, sig: int = signal.SIGTERM, timeout: float = 180.0,
                grace: float = 10.0) -> Child:
        """Stop `name` (`sig`, SIGKILL after `grace`; nothing if it already exited), start it
        again exactly as first started, and wait for its port (if known). Its log continues."""
        child = self.child(name)
        if child.factory is None and not child.args:
            raise ValueError(f"{name} was adopted without a factory: it cannot be restarted")
        if child.process.poll() is None:
            _signal_group(child.process, sig)
            _wait_quietly(child.process, grace)
        _kill_group(child.process)
        if child.factory is not None:
            child.process = child.factory()
        else:
            child.process = self._spawn(name, child.args, child.env, child.cwd)
            if child.log_path is None:
                child.pump = threading.Thread(target=self._pump, args=(child,), daemon=True)
                child.pump.start()
        child.restarts += 1
        if child.port is not None:
            wait_for_port("127.0.0.1", child.port, timeout=timeout, process=child.process)
        return child

    @staticmethod
    def _pump(child: Child) -> None:
        assert child.process.stdout is not None
        for line in child.process.stdout:
            sys.stdout.write(f"[{child.name}] {line}")
            sys.stdout.flush()

    def first_dead(self) -> Optional[Child]:
        """The first critical child that has exited, if any."""
        return next((c for c in self.children if c.critical and c.process.poll() is not None), None)

    def wait(self) -> int:
        """Block until Ctrl-C/SIGTERM or a critical child exits; then stop everything."""
        def on_signal(signum: int, _frame: object) -> None:
            self._stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        code = 0
        while not self._stopping.is_set():
            dead = self.first_dead()
            if dead is not None:
                print(f"[devstack] {dead.name} exited with {dead.process.returncode}; stopping everything",
                      flush=True)
                code = 1
                break
            self._stopping.wait(0.5)
        self.stop_all()
        return code

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM every process group (newest first), then SIGKILL what is left after `grace`."""
        for child in reversed(self.children):
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in reversed(self.children):
            _wait_quietly(child.process, max(0.0, deadline - time.monotonic()))
            _kill_group(child.process)

    def pids(self) -> Dict[str, int]:
        return {c.name: c.process.pid for c in self.children}


def _wait_quietly(process: subprocess.Popen, timeout: float) -> None:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the whole group: it may hold grandchildren even after the leader exits."""
    _signal_group(process, signal.SIGKILL)
    _wait_quietly(process, 5)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
