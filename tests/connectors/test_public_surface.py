"""connectors' public surface: every exported name resolves, lazily, without rasa or sanic."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
import connectors
before = set(sys.modules)
from connectors import keys  # a submodule import stays cheap: nothing else of the kit is loaded
cheap = sorted(m for m in set(sys.modules) - before if m.startswith("connectors.") and m != "connectors.keys")
missing = [name for name in connectors.__all__ if getattr(connectors, name, None) is None]
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"rasa", "sanic", "tensorflow"})
print(json.dumps({"cheap": cheap, "missing": missing, "heavy": heavy, "count": len(connectors.__all__)}))
"""


def test_every_exported_name_resolves_without_rasa_or_sanic() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["cheap"] == [] and found["missing"] == [] and found["heavy"] == []
    assert found["count"] > 40


def test_the_send_path_and_its_errors_are_importable_from_the_package() -> None:
    import connectors
    from connectors import errors, payloads

    assert connectors.payloads is payloads
    assert connectors.from_graph_error is errors.from_graph_error
    assert issubclass(connectors.WindowClosed, connectors.WhatsAppError)
    error = connectors.from_graph_error({"error": {"code": 130429, "message": "Rate limit hit"}}, 400)
    assert isinstance(error, connectors.RateLimited) and error.is_transient
    assert "rasa_channel" not in connectors.__all__
