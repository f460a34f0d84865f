"""`python -m rasa_server <rasa arguments>`: Rasa's CLI with the project's fixes applied."""

from __future__ import annotations

import sys

from rasa_server.action_validation import install_cached_validator
from rasa_server.body_limit import BodyLimitError, apply_body_limit
from rasa_server.fast_inference import install_fast_inference
from rasa_server.lean_model_load import install_lean_model_load
from rasa_server.strict_tracker_store import install_strict_tracker_store
from rasa_server.turn_timeouts import TurnTimeoutsError, apply_turn_timeouts


def main() -> None:
    try:
        apply_turn_timeouts()
        apply_body_limit()
    except (TurnTimeoutsError, BodyLimitError) as error:
        print(f"rasa: {error}", file=sys.stderr)
        sys.exit(2)
    install_cached_validator()
    install_fast_inference()
    install_lean_model_load()
    install_strict_tracker_store()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
