import yaml

from scripts.generate_digressions import DIGRESSIONS_PATH, forms, render


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
        "steps": [{"intent": "ask_return_policy"}, {"action": "utter_return_policy"},
                  {"action": "complaint_form"}, {"active_loop": "complaint_form"}],
    }
