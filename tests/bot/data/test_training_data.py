"""Rasa's own checks of the training data, the domain and the dialogue."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # Rasa validates the data and replays the stories on the trained model

REPO_ROOT = Path(__file__).resolve().parents[3]
MODEL = REPO_ROOT / "bot" / "models" / "aftersales.tar.gz"


def _rasa(*args: str, home: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    # HOME is a scratch folder: Rasa and Keras write their caches and settings there.
    return subprocess.run(
        [sys.executable, "-m", "rasa", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "RASA_TELEMETRY_ENABLED": "false",
             "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO_ROOT)},
    )


def test_rasa_data_validate_is_clean(tmp_path: Path) -> None:
    result = _rasa("data", "validate", "--config", "config.yml", "--domain", "domain.yml",
                   "--data", "bot/data", "--fail-on-warnings", home=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_test_stories_pass(tmp_path: Path) -> None:
    """Every flow's test story (happy path, correction, digression, failures) is predicted.

    `rasa test core` replays the stories' events and checks each predicted action; it
    does not call the action server, so the stories spell out the slots actions set.
    """
    result = _rasa("test", "core", "--model", str(MODEL), "--stories", "tests/stories",
                   "--out", str(tmp_path), "--fail-on-prediction-errors", "--no-plot", home=tmp_path)
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, details[-6000:] + result.stdout[-3000:] + result.stderr[-3000:]
