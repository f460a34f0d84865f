"""The trained model on both held-out sets (never trained on) meets the project's targets."""

from pathlib import Path

import pytest

from scripts.evaluate_nlu import HELDOUT_SETS, evaluate_heldout, print_heldout

INTENT_MACRO_F1_TARGET = 0.93
ORDER_ID_F1_TARGET = 0.98


@pytest.mark.parametrize("heldout", HELDOUT_SETS, ids=lambda path: path.stem)
def test_heldout_targets(heldout: Path) -> None:
    report = evaluate_heldout(data_path=heldout)
    print_heldout(report, heldout.name)
    assert report.intent_macro_f1 >= INTENT_MACRO_F1_TARGET, report.confusions[:10]
    assert report.entities["order_id"].f1 >= ORDER_ID_F1_TARGET, [
        e for e in report.errors if e["entities"] != e["predicted_entities"]
    ][:10]
