"""Trains the Rasa model, or with --if-needed only when its inputs changed.

The inputs are the config, the domain, the training data and the project's own NLU
components and jieba dictionary (Rasa's own fingerprint does not see changes to custom
component code). Their hash is kept beside the model.

Usage: python scripts/train.py [--if-needed]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO_ROOT / "bot" / "models"
MODEL_NAME = "aftersales"
MODEL_PATH = MODELS_DIR / f"{MODEL_NAME}.tar.gz"
FINGERPRINT_PATH = MODELS_DIR / f"{MODEL_NAME}.fingerprint"
INPUTS = ["config.yml", "domain.yml", "requirements.lock", "bot/data", "bot/nlu"]


def input_files() -> list[Path]:
    """Every file the trained model depends on, in a stable order."""
    files: list[Path] = []
    for name in INPUTS:
        path = REPO_ROOT / name
        if path.is_dir():
            files.extend(
                p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )
        elif path.exists():
            files.append(path)
    return sorted(files)


def fingerprint() -> str:
    """A hash of the names and contents of the model's inputs."""
    digest = hashlib.sha256()
    for path in input_files():
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_up_to_date(current: str) -> bool:
    """True when a model exists and was trained from exactly these inputs."""
    return MODEL_PATH.exists() and FINGERPRINT_PATH.exists() and (
        FINGERPRINT_PATH.read_text().strip() == current
    )


def train() -> None:
    """Runs `rasa train` into bot/models/aftersales.tar.gz."""
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "rasa", "train",
        "--config", "config.yml", "--domain", "domain.yml", "--data", "bot/data",
        "--out", str(MODELS_DIR), "--fixed-model-name", MODEL_NAME, "--force",
    ]
    subprocess.run(command, cwd=REPO_ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-needed", action="store_true", help="skip when nothing changed")
    args = parser.parse_args()
    current = fingerprint()
    if args.if_needed and is_up_to_date(current):
        print(f"train: {MODEL_PATH.relative_to(REPO_ROOT)} is up to date")
        return 0
    print("train: training the Rasa model (a few minutes on 2 cores)")
    train()
    FINGERPRINT_PATH.write_text(current + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
