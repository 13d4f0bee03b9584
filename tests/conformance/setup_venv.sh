#!/usr/bin/env bash
# Create (or reuse) a Python virtual environment for the conformance checkers.
#
#   tests/conformance/setup_venv.sh PATH [REQUIREMENTS]
#
# Creates a venv at PATH with a Python >= 3.12 (the pinned SDK, dify_plugin 0.10,
# declares requires-python >= 3.12; pip finds no 0.10 release for an older Python) and
# installs requirements.txt quietly (or REQUIREMENTS, which must pin the same SDK: the
# benchmark's Python plugin adds boto3 to it).  The interpreter is, in this order: python3.12 on
# PATH; the newest 3.12 under pyenv's versions directory ($PYENV_ROOT, ~/.pyenv, or
# `pyenv root`); python3 on PATH if it is 3.12 or newer.  Idempotent: a venv that
# already holds exactly these requirements (marker file), runs a Python >= 3.12 and can
# import the SDK's models is reused without touching the network; a venv of an older
# Python is replaced.  Exits non-zero with a message on failure.
set -euo pipefail

die() {
    echo "setup_venv.sh: error: $*" >&2
    exit 1
}

{ [ $# -eq 1 ] || [ $# -eq 2 ]; } && [ -n "$1" ] || die "usage: $0 VENV_PATH [REQUIREMENTS]"
venv="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="${2:-$here/requirements.txt}"
marker="$venv/.dify-conformance-requirements"
python="$venv/bin/python"

[ -f "$requirements" ] || die "missing $requirements"

# True if "$1" runs and is Python 3.12 or newer.  Runs it rather than trusting
# `command -v`: a pyenv shim for python3.12 is on PATH even when pyenv has not
# selected that version, and then fails when run.
recent_enough() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python() {
    local candidate root roots=()
    if candidate="$(command -v python3.12 2>/dev/null)" && recent_enough "$candidate"; then
        echo "$candidate"
        return 0
    fi
    # pyenv installs each version under <root>/versions/<version>/bin, usable without
    # `pyenv` itself on PATH (a CI image may install Pythons but not activate them).
    [ -n "${PYENV_ROOT:-}" ] && roots+=("$PYENV_ROOT")
    roots+=("$HOME/.pyenv")
    if command -v pyenv >/dev/null 2>&1 && root="$(pyenv root 2>/dev/null)" && [ -n "$root" ]; then
        roots+=("$root")
    fi
    for root in "${roots[@]}"; do
        # newest 3.12.x first (version sort: 3.12.10 after 3.12.9)
        while IFS= read -r candidate; do
            if [ -n "$candidate" ] && recent_enough "$candidate"; then
                echo "$candidate"
                return 0
            fi
        done < <(ls -d "$root"/versions/3.12*/bin/python3.12 2>/dev/null | sort -rV)
    done
    if candidate="$(command -v python3 2>/dev/null)" && recent_enough "$candidate"; then
        echo "$candidate"
        return 0
    fi
    return 1
}

# The marker holds a copy of requirements.txt: a changed pin means reinstall.
if [ -x "$python" ] && recent_enough "$python" && [ -f "$marker" ] && cmp -s "$marker" "$requirements" &&
    report="$("$python" "$here/sdk_models.py" 2>/dev/null)"; then
    echo "setup_venv.sh: reusing $venv ($report)"
    exit 0
fi

if [ -e "$venv" ] && ! { [ -x "$python" ] && recent_enough "$python"; }; then
    # A venv of an older Python (made when the pin was for Python 3.11) cannot take
    # the new SDK.  Only a directory that is a venv is removed, never anything else.
    if [ -f "$venv/pyvenv.cfg" ]; then
        echo "setup_venv.sh: replacing $venv (its Python is older than 3.12)"
        rm -rf "$venv"
    elif [ -n "$(ls -A "$venv" 2>/dev/null)" ] || [ ! -d "$venv" ]; then
        die "$venv exists but is not a Python >= 3.12 venv; remove it or choose another path"
    fi
fi

if [ ! -x "$python" ]; then
    base="$(find_python)" ||
        die "no Python 3.12 or newer found (the pinned dify_plugin needs it): tried python3.12 on PATH, \
\$PYENV_ROOT/versions/3.12*, ~/.pyenv/versions/3.12*, \`pyenv root\`/versions/3.12* and python3 on PATH; \
install Python 3.12 (e.g. \`pyenv install 3.12\`) or put python3.12 on PATH"
    "$base" -m venv "$venv" ||
        die "could not create a venv at $venv with $base (see above; on Debian/Ubuntu the python3.12-venv package may be missing)"
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
