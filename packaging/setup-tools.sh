#!/usr/bin/env bash
# Create (or reuse) the packaging tools' virtual environment.
#
#   packaging/setup-tools.sh [--system] [VENV]
#
# VENV defaults to target/package/tools. Installs tools-requirements.txt (cargo-zigbuild,
# ziglang, uv: prebuilt binaries in PyPI wheels) with the machine's python3. Idempotent:
# a venv already holding exactly these pins is reused without touching the network.
#
# --system also installs, when missing, Debian's qemu-user-static (to start the aarch64
# binary in tests/package.rs) and openssl (to make test keys), with apt-get. A failure
# there is reported and is not fatal: the tests then say what they could not run.
set -euo pipefail

die() {
    echo "setup-tools.sh: error: $*" >&2
    exit 1
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
system=0
venv=""
for arg in "$@"; do
    case "$arg" in
    --system) system=1 ;;
    -h | --help)
        sed -n '2,13p' "$0"
        exit 0
        ;;
    -*) die "unknown option $arg" ;;
    *) venv="$arg" ;;
    esac
done
venv="${venv:-$root/target/package/tools}"
requirements="$here/tools-requirements.txt"
marker="$venv/.tools-requirements"

if [ "$system" = 1 ]; then
    missing=()
    command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup-tools.sh: installing ${missing[*]} with apt-get" >&2
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2; then
            echo "setup-tools.sh: warning: could not install ${missing[*]}; the aarch64 start under qemu (and signing tests) will be skipped" >&2
        fi
    fi
fi

if [ -x "$venv/bin/python" ] && [ -f "$marker" ] && cmp -s "$marker" "$requirements" &&
    [ -x "$venv/bin/uv" ] && [ -x "$venv/bin/cargo-zigbuild" ]; then
    echo "setup-tools.sh: reusing $venv" >&2
    exit 0
fi

command -v python3 >/dev/null 2>&1 || die "python3 not found on PATH"
if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" ||
        die "could not create a venv at $venv (on Debian/Ubuntu the python3-venv package may be missing)"
fi
rm -f "$marker"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" ||
    die "pip could not install $requirements into $venv (PyPI access needed)"
"$venv/bin/python" -m ziglang version >/dev/null || die "zig from the ziglang package does not run"
cp "$requirements" "$marker"
echo "setup-tools.sh: ready: $venv (uv $("$venv/bin/uv" --version | cut -d' ' -f2), cargo-zigbuild $("$venv/bin/cargo-zigbuild" --version | cut -d' ' -f2), zig $("$venv/bin/python" -m ziglang version))" >&2
