"""Train the bot once per distinct input, and print the model's path.

    python bot/train.py [--config fast|prod|PATH] [--out bot/models] [--data DIR] [--domain FILE]

The model file is named ``<config>-<hash>.tar.gz`` where the hash covers the Rasa version, the
config file, the domain and every file under the data directory (path and bytes). If that file
already exists it is reused and nothing is trained, so ``run`` and ``test`` targets can call this
unconditionally. Training writes to a temporary directory and renames into place, under a file
lock, so concurrent callers never see a half-written model or train twice.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable, List, Optional

BOT_DIR = Path(__file__).resolve().parent
CONFIGS = {"fast": BOT_DIR / "config.fast.yml", "prod": BOT_DIR / "config.yml"}
# No story augmentation: rules carry the flows, and augmented trackers made TED ~10x slower.
TRAIN_ARGS = ("--augmentation", "0")

# Importing skops before TensorFlow makes the LogisticRegression classifier train and load
# several times faster (see rasa-3.6-notes.md); harmless for the DIET config.
_RASA_CLI = (
    "import sys\n"
    "try:\n    import skops.io  # noqa: F401\nexcept ImportError:\n    pass\n"
    "from rasa.__main__ import main\n"
    "sys.argv = ['rasa'] + sys.argv[1:]\n"
    "main()\n"
)


def _rasa_version() -> str:
    try:
        from importlib.metadata import version

        return version("rasa")
    except Exception:  # noqa: BLE001 - an env without rasa still hashes deterministically
        return "unknown"


def _files(data: Path) -> List[Path]:
    if data.is_file():
        return [data]
    return sorted(p for p in data.rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml"})


def fingerprint(config: Path, domain: Path, data: Path, rasa_version: Optional[str] = None) -> str:
    """A short hash of everything that decides the trained model."""
    digest = hashlib.sha256()

    def add(label: str, payload: bytes) -> None:
        digest.update(label.encode() + b"\0" + len(payload).to_bytes(8, "big") + payload)

    add("rasa", (rasa_version or _rasa_version()).encode())
    add("args", " ".join(TRAIN_ARGS).encode())
    add("config", config.read_bytes())
    add("components", (BOT_DIR / "components.py").read_bytes())  # custom pipeline code
    for path in _files(domain):
        add("domain:" + path.relative_to(domain if domain.is_dir() else domain.parent).as_posix(),
            path.read_bytes())
    for path in _files(data):
        add("data:" + path.relative_to(data if data.is_dir() else data.parent).as_posix(),
            path.read_bytes())
    return digest.hexdigest()[:16]


def model_name(config_name: str, config: Path, domain: Path, data: Path) -> str:
    return f"{config_name}-{fingerprint(config, domain, data)}"


def train(
    config_name: str = "fast",
    out: Path = BOT_DIR / "models",
    data: Path = BOT_DIR / "data",
    domain: Path = BOT_DIR / "domain.yml",
    quiet: bool = True,
) -> Path:
    """Return the path of the model for these inputs, training it only if it is missing."""
    config = (CONFIGS.get(config_name) or Path(config_name)).resolve()
    out, data, domain = out.resolve(), data.resolve(), domain.resolve()
    label = config_name if config_name in CONFIGS else config.stem
    name = model_name(label, config, domain, data)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}.tar.gz"
    if target.exists():
        return target
    with open(out / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():  # another process trained it while we waited
            return target
        for stale in out.glob(".train-*"):  # left by a killed run (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=".train-", dir=out))
        try:
            _run_rasa_train(config, domain, data, tmp, name, quiet)
            os.replace(tmp / f"{name}.tar.gz", target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _run_rasa_train(config: Path, domain: Path, data: Path, out: Path, name: str,
                    quiet: bool) -> None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", SQLALCHEMY_SILENCE_UBER_WARNING="1",
               RASA_TELEMETRY_ENABLED="false",
               PYTHONPATH=os.pathsep.join(filter(None, [str(BOT_DIR.parent), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-c", _RASA_CLI, "train", "--config", str(config), "--domain",
           str(domain), "--data", str(data), "--out", str(out), "--fixed-model-name", name, *TRAIN_ARGS]
    # Rasa's own cache (.rasa/) lives next to the bot so it never lands in the caller's cwd.
    result = subprocess.run(cmd, cwd=str(BOT_DIR), env=env,
                            stdout=subprocess.PIPE if quiet else None,
                            stderr=subprocess.STDOUT if quiet else None, text=True)
    if result.returncode != 0 or not (out / f"{name}.tar.gz").exists():
        if quiet and result.stdout:
            sys.stderr.write(result.stdout[-4000:])
        raise RuntimeError(f"rasa train failed (exit {result.returncode})")


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="fast", help="fast, prod, or a config file path")
    parser.add_argument("--out", type=Path, default=BOT_DIR / "models")
    parser.add_argument("--data", type=Path, default=BOT_DIR / "data")
    parser.add_argument("--domain", type=Path, default=BOT_DIR / "domain.yml")
    parser.add_argument("--verbose", action="store_true", help="show Rasa's training output")
    args = parser.parse_args(list(argv) if argv is not None else None)
    path = train(args.config, args.out.resolve(), args.data.resolve(), args.domain.resolve(),
                 quiet=not args.verbose)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
