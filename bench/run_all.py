"""Run every benchmark in bench/ and write one report: bench/REPORT.md.

    make bench            # or: .envs/services/bin/python bench/run_all.py [--only NAME ...]

Each benchmark is a script that measures its subject beside a baseline in the same run and
writes bench/results/<name>.json. This runner starts them one after another (never two at
once: the machine has 2 cores), then puts each figure beside its baseline with the machine
and the command in one markdown file. Figures are ratios against the same-run baseline; the
absolute numbers move with whatever else the machine is doing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SERVICES_PY = os.environ.get("PARLEY_SERVICES_PYTHON", sys.executable)
BOT_PY = os.environ.get("PARLEY_BOT_PYTHON", str(ROOT / ".envs" / "bot" / "bin" / "python"))

#: name -> the command that reproduces it (run from the repo root).
BENCHMARKS: Dict[str, List[str]] = {
    "sandbox_send": [SERVICES_PY, "bench/sandbox_send.py"],
    "sender": [SERVICES_PY, "bench/sender.py"],
    "webhook_ingest": [SERVICES_PY, "bench/webhook_ingest.py", "--server-python", BOT_PY],
    "bot_loop": [SERVICES_PY, "bench/bot_loop.py", "--bot-python", BOT_PY],
    "handoff_live": [SERVICES_PY, "bench/handoff_live.py"],
    "broadcast_campaign": [SERVICES_PY, "bench/broadcast_campaign.py"],
    # The whole platform at once (bot, handoff, a 100,000-recipient campaign) for 5 minutes.
    "platform_load": [SERVICES_PY, "bench/platform_load.py", "--bot-python", BOT_PY],
}
#: Benchmarks that need longer than --time-limit (seconds): platform_load seeds 100,000
#: contacts, snapshots the campaign and then runs 300 s of load (its own limit: 1,800 s).
TIME_LIMITS: Dict[str, float] = {"platform_load": 2400}


def machine() -> str:
    load = os.getloadavg()
    return (f"{platform.node()} · {platform.machine()} · {os.cpu_count()} cores · "
            f"Python {platform.python_version()} · load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")


def run(name: str, command: List[str], time_limit: float) -> Dict[str, object]:
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=time_limit)
    result_file = BENCH / "results" / f"{name}.json"
    return {
        "name": name,
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(command)),
        "exit": done.returncode,
        "seconds": round(time.monotonic() - started, 1),
        "stdout_tail": done.stdout[-3000:],
        "result": json.loads(result_file.read_text()) if result_file.exists() else None,
    }


def report(runs: List[Dict[str, object]]) -> str:
    lines = ["# Benchmark report", "", f"Machine: {machine()}", "",
             "Regenerate: `make bench` (or `.envs/services/bin/python bench/run_all.py`).", ""]
    for entry in runs:
        lines += [f"## {entry['name']}", "", f"Command: `{entry['command']}` · exit {entry['exit']} · "
                  f"{entry['seconds']} s", "", "```", str(entry["stdout_tail"]).strip(), "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--time-limit", type=float, default=600, help="seconds per benchmark")
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    runs = [run(name, BENCHMARKS[name], max(args.time_limit, TIME_LIMITS.get(name, 0))) for name in names]
    (BENCH / "REPORT.md").write_text(report(runs))
    print(f"wrote {BENCH / 'REPORT.md'}")
    return 0 if all(entry["exit"] == 0 for entry in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
