import yaml

from scripts.generate_digressions import ANSWERED_INSIDE_FORMS, DIGRESSIONS_PATH, ENDING_FORMS, forms, render
from tests.fixtures.actions import load_domain


def test_the_committed_file_is_what_the_script_writes() -> None:
    assert DIGRESSIONS_PATH.read_text(encoding="utf-8") == render()


def test_every_form_can_be_left_for_every_other_task() -> None:
    rules = yaml.safe_load(render())["rules"]
    switches = {
        (r["condition"][0]["active_loop"], r["steps"][3]["action"])
        for r in rules
        if len(r["steps"]) == 5 and r["steps"][1] == {"action": "action_deactivate_loop"}
    }
    assert switches == {(a, b) for a in forms() for b in forms() if a != b}


def test_a_question_inside_a_form_is_answered_and_the_form_resumes() -> None:
    (rule,) = [r for r in yaml.safe_load(render())["rules"]
               if r["rule"] == "ask_return_policy inside complaint_form, then go on"]
    assert rule == {
        "rule": "ask_return_policy inside complaint_form, then go on",
        "condition": [{"active_loop": "complaint_form"}],
        "steps": [{"intent": "ask_return_policy"}, {"action": "action_answer_rules_question"},
                  {"action": "complaint_form"}, {"active_loop": "complaint_form"}],
    }


def test_the_order_questions_never_take_a_digression_as_their_answer() -> None:
    # A slot mapping that read "运费谁出？" as an order number would swallow the message
    # before its rule could answer it, and ask for the order number again.
    slots = load_domain()["slots"]
    handled = set(ANSWERED_INSIDE_FORMS) | set(ENDING_FORMS)
    for slot in ("order_id", "phone_last4", "return_item", "item_intact"):
        [from_text] = [m for m in slots[slot]["mappings"] if m["type"] == "from_text"]
        assert handled <= set(from_text["not_intent"]), slot
