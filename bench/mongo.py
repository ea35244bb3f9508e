"""The MongoDB a benchmark runs against: the server named by ``MONGODB_URL`` (a real mongod; the
run gets a fresh database on it, dropped at the end) or, by default, a private embedded
MongoDB-compatible server (SecantusDB), whose speed then bounds the figures: do not read those as
mongod numbers."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from devstack import free_port, start_mongo


@dataclass(frozen=True)
class BenchMongo:
    url: str
    db: str
    label: str  # for the results: which server the figures come from
    process: Optional[subprocess.Popen] = None  # the embedded server (None with MONGODB_URL)
    port: int = 0

    @classmethod
    def from_env(cls, run: str, embedded_db: str, data_dir: Optional[Path] = None,
                 env: Mapping[str, str] = os.environ) -> "BenchMongo":
        """``MONGODB_URL``'s server with the database ``{run}_{pid}``, else an embedded server
        (in ``data_dir``, or in memory) on a free port with ``embedded_db``."""
        if env.get("MONGODB_URL"):
            return cls(env["MONGODB_URL"], f"{run}_{os.getpid()}", "MONGODB_URL")
        port = free_port()
        storage = "on disk" if data_dir is not None else "in memory"
        return cls(f"mongodb://127.0.0.1:{port}/", embedded_db, f"embedded (SecantusDB, {storage})",
                   start_mongo(port, data_dir), port)

    def close(self) -> None:
        """Stop the embedded server, or drop this run's database on the shared one."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                self.process.wait(timeout=15)
            return
        from pymongo import MongoClient

        with MongoClient(self.url) as client:
            client.drop_database(self.db)
