import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from rasa_server.action_validation import install_cached_validator


@pytest.fixture(scope="module")
def action() -> RemoteAction:
    assert install_cached_validator()
    return RemoteAction("action_check_order_status", EndpointConfig("http://127.0.0.1:9/webhook"))


def test_a_valid_response_is_accepted_without_checking_the_schema_again(
    action: RemoteAction, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[object] = []
    monkeypatch.setattr(jsonschema.Draft202012Validator, "check_schema", classmethod(lambda cls, s: checked.append(s)))
    monkeypatch.setattr(jsonschema.Draft7Validator, "check_schema", classmethod(lambda cls, s: checked.append(s)))
    monkeypatch.setattr(jsonschema.Draft4Validator, "check_schema", classmethod(lambda cls, s: checked.append(s)))
    response = {
        "events": [{"event": "slot", "name": "order_id", "value": "6600002003"}],
        "responses": [{"response": "utter_greet", "text": None, "buttons": []}],
    }

    assert action._validate_action_result(response) is True
    assert checked == []


@pytest.mark.parametrize(
    "response",
    [
        {"events": "not a list"},
        {"events": [{"name": "order_id"}]},  # an event without its type
        {"events": [{"event": "slot", "name": "order_id"}], "responses": ["not an object"]},
    ],
)
def test_an_invalid_response_is_still_refused_in_rasas_words(action: RemoteAction, response: dict) -> None:
    with pytest.raises(jsonschema.ValidationError) as refused:
        action._validate_action_result(response)

    assert "Failed to validate Action server response from API" in refused.value.message


def test_installing_twice_wraps_once(action: RemoteAction) -> None:
    installed = RemoteAction._validate_action_result

    assert install_cached_validator()
    assert RemoteAction._validate_action_result is installed
