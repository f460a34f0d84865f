#!/usr/bin/env bash
# Set-up: find a Python 3.10 interpreter, create .venv, install the locked dependencies
# (only when requirements.lock changed), and train the Rasa model (only when its inputs
# changed). Safe to run again: it does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
LOCK=requirements.lock
PIP_VERSION=24.0

is_python310() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null
}

if [ -x "$VENV/bin/python" ] && ! is_python310 "$VENV/bin/python"; then
  echo "setup: $VENV is not Python 3.10; recreating it" >&2
  rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
  PYTHON310=$(scripts/find_python310.sh) || exit 1
  echo "setup: creating $VENV with $PYTHON310"
  "$PYTHON310" -m venv "$VENV"
fi

lock_hash=$(sha256sum "$LOCK" | cut -d' ' -f1)
if [ "$(cat "$VENV/.installed-lock" 2>/dev/null)" != "$lock_hash" ]; then
  echo "setup: installing the locked dependencies from $LOCK"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pip==$PIP_VERSION"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$LOCK"
  "$VENV/bin/python" -m pip check
  echo "$lock_hash" > "$VENV/.installed-lock"
fi

"$VENV/bin/python" scripts/train.py --if-needed
