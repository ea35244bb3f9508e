"""``python -m sandbox``: run the Cloud API sandbox configured from ``SANDBOX_*`` variables."""
from __future__ import annotations

import os
import sys

from observability.logs import install

from .app import create_app
from .settings import Settings, SettingsError


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"sandbox: bad configuration: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)
    install("sandbox", os.environ.get("PARLEY_LOG_FORMAT") or "text", settings.log_level)
    app.run(host=settings.host, port=settings.port, single_process=True, access_log=False, motd=False,
            debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
