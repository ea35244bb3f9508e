"""bot/train.py: the model name is a hash of everything that decides the model; an existing
model is reused without training."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import train

pytestmark = pytest.mark.bot
BOT = Path(train.__file__).resolve().parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(BOT / "data", tmp_path / "data")
    shutil.copy(BOT / "domain.yml", tmp_path / "domain.yml")
    shutil.copy(BOT / "config.fast.yml", tmp_path / "config.yml")
    return tmp_path


def fp(p: Path) -> str:
    return train.fingerprint(p / "config.yml", p / "domain.yml", p / "data", rasa_version="3.6.21")


def test_fingerprint_is_stable_and_sees_every_input(project: Path):
    base = fp(project)
    assert fp(project) == base
    (project / "data" / "nlu" / "basics.yml").write_text(
        (project / "data" / "nlu" / "basics.yml").read_text() + "      - hey hey\n")
    assert fp(project) != base
    changed_data = fp(project)
    (project / "domain.yml").write_text((project / "domain.yml").read_text() + "\n# note\n")
    assert fp(project) != changed_data
    changed_domain = fp(project)
    (project / "config.yml").write_text((project / "config.yml").read_text().replace("0.4", "0.45"))
    assert fp(project) != changed_domain
    assert train.fingerprint(project / "config.yml", project / "domain.yml", project / "data",
                             rasa_version="3.6.20") != fp(project)


def test_fingerprint_ignores_non_yaml_files(project: Path):
    base = fp(project)
    (project / "data" / "notes.txt").write_text("scratch")
    assert fp(project) == base


def test_existing_model_is_reused_without_training(project: Path, tmp_path: Path):
    out = tmp_path / "models"
    out.mkdir()
    name = train.model_name("config", project / "config.yml", project / "domain.yml", project / "data")
    (out / f"{name}.tar.gz").write_bytes(b"already trained")
    started = time.monotonic()
    path = train.train(str(project / "config.yml"), out=out, data=project / "data",
                       domain=project / "domain.yml")
    assert path == out / f"{name}.tar.gz" and path.read_bytes() == b"already trained"
    assert time.monotonic() - started < 1.0


@pytest.mark.slow
def test_cli_trains_once_then_prints_the_cached_path(fast_model: Path):
    """`python bot/train.py --config fast` prints the model the session fixture trained."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(BOT / "train.py"), "--config", "fast",
                             "--out", str(fast_model.parent)], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == str(fast_model)
    assert time.monotonic() - started < 5.0
    assert fast_model.name.startswith("fast-") and fast_model.stat().st_size > 10_000
