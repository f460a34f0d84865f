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

# The web widget (channels/widget/web): its npm packages only when package-lock.json
# changed, its build (dist/widget.js, served by the widget channel) only when a source
# changed or the bundle is missing.
WIDGET_WEB=channels/widget/web
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: Node.js (20.19 or later) and npm are needed to build the web widget in $WIDGET_WEB" >&2
  exit 1
fi
if ! node -e 'const [major, minor] = process.versions.node.split(".").map(Number);
              process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1)'; then
  echo "setup: the web widget's build (Vite 8) needs Node.js 20.19 or later; found $(node --version)" >&2
  exit 1
fi
widget_lock_hash=$(sha256sum "$WIDGET_WEB/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$WIDGET_WEB/node_modules/.installed-lock" 2>/dev/null)" != "$widget_lock_hash" ]; then
  echo "setup: installing the web widget's npm packages from $WIDGET_WEB/package-lock.json"
  npm ci --prefix "$WIDGET_WEB" --no-audit --no-fund --loglevel=error
  echo "$widget_lock_hash" > "$WIDGET_WEB/node_modules/.installed-lock"
fi
widget_source_hash=$(cd "$WIDGET_WEB" && find src package.json package-lock.json tsconfig.json vite.config.ts \
  -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ ! -f "$WIDGET_WEB/dist/widget.js" ] \
    || [ "$(cat "$WIDGET_WEB/dist/.source-hash" 2>/dev/null)" != "$widget_source_hash" ]; then
  echo "setup: building the web widget ($WIDGET_WEB/dist/widget.js)"
  npm run build --prefix "$WIDGET_WEB" --loglevel=error
  echo "$widget_source_hash" > "$WIDGET_WEB/dist/.source-hash"
fi

# The widget's browser tests drive Debian's Chromium (never a downloaded browser), and
# its screenshots need a Chinese font.
browser_packages=()
[ -x /usr/bin/chromium ] || browser_packages+=(chromium)
if ! command -v fc-list >/dev/null || [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
  browser_packages+=(fonts-noto-cjk)
fi
if [ ${#browser_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${browser_packages[*]} for the widget's browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${browser_packages[@]}" >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq "${browser_packages[@]}" >/dev/null; } \
      || echo "setup: could not install ${browser_packages[*]}; the widget's browser tests will fail" >&2
  else
    echo "setup: the widget's browser tests need: apt-get install ${browser_packages[*]}" >&2
  fi
fi

"$VENV/bin/python" scripts/train.py --if-needed
