"""The trained model on the held-out set (never trained on) meets the project's targets."""

from scripts.evaluate_nlu import evaluate_heldout, print_heldout

INTENT_MACRO_F1_TARGET = 0.93
ORDER_ID_F1_TARGET = 0.98


def test_heldout_targets() -> None:
    report = evaluate_heldout()
    print_heldout(report)
    assert report.intent_macro_f1 >= INTENT_MACRO_F1_TARGET, report.confusions[:10]
    assert report.entities["order_id"].f1 >= ORDER_ID_F1_TARGET, [
        e for e in report.errors if e["entities"] != e["predicted_entities"]
    ][:10]
