"""`python -m devstack run`: start the whole platform on this machine, Ctrl-C stops it all.

Redis: REDIS_URL if set; else the server on 127.0.0.1:6379 if it answers; else a bundled
redis-server with AOF under the data dir. MongoDB: MONGODB_URL if set; else the embedded
MongoDB-compatible server with its data under the data dir. Then the sandbox (instead of Meta),
the bot (rasa + action server, when the bot env is built) and every Parley service that exists.
"""
from __future__ import annotations

import argparse
import sys

from devstack.processes import Supervisor
from devstack.services import start_platform
from devstack.settings import StackSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", choices=["run"], help="run: start everything and wait for Ctrl-C")
    parser.parse_args(argv)
    settings = StackSettings.from_env()
    supervisor = Supervisor()
    try:
        urls = start_platform(settings, supervisor).urls()
    except BaseException as exc:  # any failure at start must not leave children behind
        print(f"[devstack] start failed: {exc}", file=sys.stderr, flush=True)
        supervisor.stop_all()
        return 1
    print("\n[devstack] Parley is up:", flush=True)
    for name, url in urls.items():
        print(f"  {name:<22} {url}", flush=True)
    print("[devstack] pids: " + " ".join(f"{n}={p}" for n, p in supervisor.pids().items()), flush=True)
    print("[devstack] Ctrl-C stops everything.\n", flush=True)
    return supervisor.wait()


if __name__ == "__main__":
    sys.exit(main())
