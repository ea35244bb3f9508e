"""Development secrets: generated once per data dir and kept there, so sessions, agent logins
and tokens survive a restart of the dev runner. Production sets them in the environment."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def dev_secret(data_dir: Path, name: str, length: int = 32) -> str:
    """The secret `name` from the environment, else from data_dir/secrets/<name>, else a new one."""
    if os.environ.get(name):
        return os.environ[name]
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(length)
    path.write_text(value)
    path.chmod(0o600)
    return value
