"""Trains the Rasa model, or with --if-needed only when its inputs changed.

The inputs are the config, the domain, the training data and the project's own NLU
components and jieba dictionary (Rasa's own fingerprint does not see changes to custom
component code). Their hash is kept beside the model.

With --stock it trains instead the benchmark's stock Rasa 3.6 model: the same domain and
data with `scripts/bench_configs/stock.yml` (Rasa's default pipeline and policies), into
bot/models/stock/, fingerprinted the same way (`scripts/benchmark.py` trains it when needed).

When the reviewed unanswered questions (`bot/data/nlu/reviewed.yml`, written by
`make export-review`) changed since the last training, or with --compare, the previous
model and the new one are both measured on the two held-out sets, and the figures before
and after are printed.

Usage: python scripts/train.py [--if-needed] [--stock] [--compare]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: make `scripts` and `bot` importable
    sys.path.insert(0, str(REPO_ROOT))

from scripts.evaluate_nlu import HELDOUT_SETS, evaluate_heldout, quiet_logs  # noqa: E402  (Rasa loads lazily)

MODELS_DIR = REPO_ROOT / "bot" / "models"
MODEL_NAME = "aftersales"
MODEL_PATH = MODELS_DIR / f"{MODEL_NAME}.tar.gz"
FINGERPRINT_PATH = MODELS_DIR / f"{MODEL_NAME}.fingerprint"
INPUTS = ["config.yml", "domain.yml", "requirements.lock", "bot/data", "bot/nlu"]
# The reviewed unanswered questions, and the hash of the file the last model was trained on.
REVIEW_DATA_PATH = REPO_ROOT / "bot" / "data" / "nlu" / "reviewed.yml"
REVIEW_FINGERPRINT_PATH = MODELS_DIR / f"{MODEL_NAME}.reviewed-fingerprint"

# The benchmark's stock Rasa: no project components, so bot/nlu is not an input.
STOCK_CONFIG = "scripts/bench_configs/stock.yml"
STOCK_MODELS_DIR = MODELS_DIR / "stock"
STOCK_MODEL_NAME = "aftersales-stock"
STOCK_MODEL_PATH = STOCK_MODELS_DIR / f"{STOCK_MODEL_NAME}.tar.gz"
STOCK_FINGERPRINT_PATH = STOCK_MODELS_DIR / f"{STOCK_MODEL_NAME}.fingerprint"
STOCK_INPUTS = [STOCK_CONFIG, "domain.yml", "requirements.lock", "bot/data"]


def input_files(inputs: Sequence[str] = INPUTS) -> list[Path]:
    """Every file the trained model depends on, in a stable order."""
    files: list[Path] = []
    for name in inputs:
        path = REPO_ROOT / name
        if path.is_dir():
            files.extend(
                p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )
        elif path.exists():
            files.append(path)
    return sorted(files)


def fingerprint(inputs: Sequence[str] = INPUTS) -> str:
    """A hash of the names and contents of the model's inputs."""
    digest = hashlib.sha256()
    for path in input_files(inputs):
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_up_to_date(current: str, model_path: Path | None = None, fingerprint_path: Path | None = None) -> bool:
    """True when a model exists and was trained from exactly these inputs (by default
    the project's model)."""
    model_path = model_path or MODEL_PATH
    fingerprint_path = fingerprint_path or FINGERPRINT_PATH
    return model_path.exists() and fingerprint_path.exists() and (
        fingerprint_path.read_text().strip() == current
    )


def train(config: str = "config.yml", out_dir: Path = MODELS_DIR, name: str = MODEL_NAME) -> None:
    """Runs `rasa train` into `out_dir`/`name`.tar.gz (default bot/models/aftersales.tar.gz)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "rasa", "train",
        "--config", config, "--domain", "domain.yml", "--data", "bot/data",
        "--out", str(out_dir), "--fixed-model-name", name, "--force",
    ]
    subprocess.run(command, cwd=REPO_ROOT, check=True)


def train_stock(if_needed: bool = True) -> float | None:
    """Trains the stock model (when its inputs changed, with `if_needed`); returns the
    seconds training took, or None when the model was up to date."""
    current = fingerprint(STOCK_INPUTS)
    if if_needed and is_up_to_date(current, STOCK_MODEL_PATH, STOCK_FINGERPRINT_PATH):
        print(f"train: {STOCK_MODEL_PATH.relative_to(REPO_ROOT)} is up to date")
        return None
    print(f"train: training the stock Rasa model with {STOCK_CONFIG} (10-25 minutes on 2 cores)")
    started = time.monotonic()
    train(STOCK_CONFIG, STOCK_MODELS_DIR, STOCK_MODEL_NAME)
    seconds = time.monotonic() - started
    STOCK_FINGERPRINT_PATH.write_text(current + "\n")
    print(f"train: stock model trained in {seconds:.0f} s")
    return seconds


def review_fingerprint() -> str:
    """A hash of the reviewed-questions file ("" when there is none)."""
    if not REVIEW_DATA_PATH.exists():
        return ""
    return hashlib.sha256(REVIEW_DATA_PATH.read_bytes()).hexdigest()


def review_changed(current: str) -> bool:
    """Whether the reviewed questions differ from those the existing model was trained on."""
    before = REVIEW_FINGERPRINT_PATH.read_text().strip() if REVIEW_FINGERPRINT_PATH.exists() else ""
    return MODEL_PATH.exists() and current != before


def heldout_lines(before: Path, after: Path) -> list[str]:
    """Intent macro-F1, order-number F1 and fallback share of two models on both held-out sets."""
    quiet_logs()
    lines = [f"{'held-out set':<22}{'':>10}{'intent F1':>12}{'order_id F1':>13}{'fallback':>10}"]
    for data in HELDOUT_SETS:
        for label, model in (("before", before), ("after", after)):
            report = evaluate_heldout(model, data)
            order_id = report.entities.get("order_id")
            lines.append(
                f"{data.stem:<22}{label:>10}{report.intent_macro_f1:>12.3f}"
                f"{(order_id.f1 if order_id else 0.0):>13.3f}{report.fallback_share:>10.1%}"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--if-needed", action="store_true", help="skip when nothing changed")
    parser.add_argument("--stock", action="store_true", help="the benchmark's stock Rasa model instead")
    parser.add_argument("--compare", action="store_true", help="held-out figures before and after")
    args = parser.parse_args()
    if args.stock:
        train_stock(args.if_needed)
        return 0
    current = fingerprint()
    if args.if_needed and is_up_to_date(current):
        print(f"train: {MODEL_PATH.relative_to(REPO_ROOT)} is up to date")
        return 0
    reviewed = review_fingerprint()
    compare = args.compare or review_changed(reviewed)
    with tempfile.TemporaryDirectory() as keep:
        previous = Path(keep) / MODEL_PATH.name
        if compare and MODEL_PATH.exists():
            shutil.copy2(MODEL_PATH, previous)
        print("train: training the Rasa model (a few minutes on 2 cores)")
        train()
        FINGERPRINT_PATH.write_text(current + "\n")
        REVIEW_FINGERPRINT_PATH.write_text(reviewed + "\n")
        if previous.exists():
            print("train: the held-out sets before and after this training:")
            print("\n".join(heldout_lines(previous, MODEL_PATH)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
