#!/usr/bin/env bash
# Create (or reuse) a Python virtual environment for the conformance checkers.
#
#   tests/conformance/setup_venv.sh PATH
#
# Creates a venv at PATH with the machine's python3 and installs requirements.txt
# (the pinned official SDK, dify_plugin) quietly.  Idempotent: a venv that already
# holds exactly these requirements (marker file) and can import the SDK's models is
# reused without touching the network.  Exits non-zero with a message on failure.
set -euo pipefail

die() {
    echo "setup_venv.sh: error: $*" >&2
    exit 1
}

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 VENV_PATH"
venv="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="$here/requirements.txt"
marker="$venv/.dify-conformance-requirements"
python="$venv/bin/python"

[ -f "$requirements" ] || die "missing $requirements"
command -v python3 >/dev/null 2>&1 || die "python3 not found on PATH"

# The marker holds a copy of requirements.txt: a changed pin means reinstall.
if [ -x "$python" ] && [ -f "$marker" ] && cmp -s "$marker" "$requirements" &&
    report="$("$python" "$here/sdk_models.py" 2>/dev/null)"; then
    echo "setup_venv.sh: reusing $venv ($report)"
    exit 0
fi

if [ ! -x "$python" ]; then
    python3 -m venv "$venv" ||
        die "could not create a venv at $venv with $(command -v python3) (see above; on Debian/Ubuntu the python3-venv package may be missing)"
fi
rm -f "$marker"
"$python" -m pip install --quiet --disable-pip-version-check -r "$requirements" ||
    die "pip could not install $requirements into $venv (network or index access needed)"

# Prove the pinned SDK's models import, and say which version.
if ! report="$("$python" "$here/sdk_models.py" 2>&1)"; then
    die "the venv at $venv cannot import the pinned SDK: $report"
fi
cp "$requirements" "$marker"
echo "setup_venv.sh: ready: $venv ($report)"
