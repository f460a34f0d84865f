#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter, or explains what to install and exits 1.
# Looks at $PYTHON, python3.10 on PATH, pyenv's versions, then the usual install places.
set -uo pipefail

is_python310() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1
}

candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root 2>/dev/null)
  for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -V -r); do
    candidates+=("$root/versions/$version/bin/python3.10")
  done
fi
for path in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
  [ -x "$path" ] && candidates+=("$path")
done

for candidate in "${candidates[@]}"; do
  if is_python310 "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done

cat >&2 <<'MSG'
setup: Python 3.10 is required and none was found.
  Rasa Open Source 3.6 installs only on Python 3.10 or older (not on 3.11+).
  Install one, for example:
    pyenv install 3.10.13                        (with pyenv), or
    apt-get install python3.10 python3.10-venv   (where your distribution has it)
  or point PYTHON at one:  PYTHON=/path/to/python3.10 make run
MSG
exit 1
