"""`python -m rasa_server <rasa arguments>`: Rasa's CLI with the project's fixes applied."""

from __future__ import annotations

from rasa_server.action_validation import install_cached_validator


def main() -> None:
    install_cached_validator()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
