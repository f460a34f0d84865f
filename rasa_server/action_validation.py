"""Action-server responses checked by a JSON-schema validator built once, not per call.

Rasa 3.6 checks every action-server response with `jsonschema.validate`, which validates
the schema itself against its metaschema on every call before it looks at the response:
about half of the Rasa server's CPU under load (profiled with py-spy, README
"Performance"). The schema is a constant, so it is checked once here; a response that
fails goes through Rasa's own method, which raises the error exactly as Rasa words it.
"""

from __future__ import annotations

import logging
from typing import Any

from jsonschema import validators

logger = logging.getLogger(__name__)

_PATCHED_MARK = "_aftersales_cached_validator"


def install_cached_validator() -> bool:
    """Makes `RemoteAction` validate responses with a validator built once.

    Returns:
        True when installed (or already installed); False when this Rasa version's
        `RemoteAction` does not look as expected and was left unchanged.
    """
    from rasa.core.actions.action import RemoteAction

    original = getattr(RemoteAction, "_validate_action_result", None)
    spec_of = getattr(RemoteAction, "action_response_format_spec", None)
    if original is None or spec_of is None:
        logger.warning("RemoteAction has changed; action responses are validated the slow way")
        return False
    if getattr(original, _PATCHED_MARK, False):
        return True
    schema = spec_of()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if validator.is_valid(result):
            return True
        return bool(original(self, result))  # raises Rasa's ValidationError, worded by Rasa

    setattr(_validate_action_result, _PATCHED_MARK, True)
    RemoteAction._validate_action_result = _validate_action_result
    return True
