#!/usr/bin/env bash
# `make lab`: JupyterLab on the notebooks, wherever people run it. In containers people are often
# root, and JupyterLab refuses root without --allow-root; without a display there is no browser to
# open. JupyterLab prints the URL with its token. Extra arguments go to `jupyter lab`.
set -euo pipefail
cd "$(dirname "$0")/.."
JUPYTER="${JUPYTER:-.venv/bin/jupyter}"
args=(lab notebooks/)
if [ "$(id -u)" -eq 0 ]; then
    args+=(--allow-root)
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ "$(uname -s)" != Darwin ]; then
    args+=(--no-browser)
fi
echo "starting: $JUPYTER ${args[*]} $*" >&2
exec "$JUPYTER" "${args[@]}" "$@"
