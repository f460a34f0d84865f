"""Trains the NLU with each given config and scores it on both held-out sets.

For choosing the pipeline (DIET's size, epochs, features) by measurement: each config is
trained NLU-only (`rasa train nlu`, the dialogue is not involved) on the project's
training data into a scratch folder, then evaluated like `scripts/evaluate_nlu.py`. It
prints one row a config: training seconds, and intent macro-F1, order-number F1 and the
share of messages that fell to `nlu_fallback` on each held-out set.

Usage: python scripts/compare_nlu_configs.py CONFIG [CONFIG ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: make `bot` and `scripts` importable
    sys.path.insert(0, str(REPO_ROOT))

from scripts.evaluate_nlu import HELDOUT_SETS, evaluate_heldout, quiet_logs  # noqa: E402


def train_nlu(config: Path, out: Path) -> tuple[Path, float]:
    """Trains the NLU of `config` into `out`; returns the model and the seconds it took."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "rasa", "train", "nlu", "--config", str(config), "--nlu", "bot/data",
         "--out", str(out), "--fixed-model-name", "nlu"],
        cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL,
    )
    return out / "nlu.tar.gz", time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("configs", nargs="+", type=Path)
    args = parser.parse_args()
    quiet_logs()
    header = "".join(f"{path.stem + ' F1/order/fallback':>36}" for path in HELDOUT_SETS)
    rows = [f"{'config':<32}{'train s':>9}{header}"]
    for config in args.configs:
        with tempfile.TemporaryDirectory() as scratch:
            model, seconds = train_nlu(config.resolve(), Path(scratch))
            cells = []
            for heldout in HELDOUT_SETS:
                report = evaluate_heldout(model, heldout)
                order_f1 = report.entities["order_id"].f1 if "order_id" in report.entities else 0.0
                cells.append(f"{report.intent_macro_f1:.3f} / {order_f1:.3f} / {report.fallback_share:.1%}")
        rows.append(f"{config.name:<32}{seconds:>9.0f}" + "".join(f"{cell:>36}" for cell in cells))
        print(rows[-1], flush=True)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
