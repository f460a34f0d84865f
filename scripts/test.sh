#!/usr/bin/env bash
# The full test suite: lint, types, then every test (unit, service, dialogue, acceptance).
# Arguments go to pytest: `make test-fast` passes -m "not stack and not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
echo "== ruff"; $PY -m ruff check .
echo "== mypy"; $PY -m mypy bot order_system record_service service_common rasa_sdk_plugins rasa_server scripts channels reporting
echo "== pytest"; $PY -m pytest "$@"
