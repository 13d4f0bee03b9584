#!/usr/bin/env bash
# Build the installable package from a fresh checkout, in one command.
#
#   packaging/build-package.sh [OPTIONS FOR dify-bedrock package]
#
# Installs the tools (setup-tools.sh), builds the musl binaries for x86_64 and aarch64
# (build-binaries.sh), then runs `dify-bedrock package` on what was built and writes
# dist/bedrock-<version>.difypkg. Options are passed on, e.g.
#   packaging/build-package.sh --sign my.private.pem --public-key-out dist/my.public.pem
# Set DIFY_BEDROCK_TARGETS="x86_64" to build and ship one machine only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target_dir="${DIFY_BEDROCK_PACKAGE_TARGET_DIR:-$root/target/package}"

# shellcheck disable=SC2086 # the targets are a space-separated list on purpose
built="$(bash "$here/build-binaries.sh" ${DIFY_BEDROCK_TARGETS:-x86_64 aarch64})"
targets="$(echo "$built" | paste -sd, -)"

# The package command is in every dify-bedrock binary: use the one this machine runs.
case "$(uname -m)" in
x86_64 | amd64) host=x86_64-unknown-linux-musl ;;
aarch64 | arm64) host=aarch64-unknown-linux-musl ;;
*) host="" ;;
esac
packager=(cargo run --quiet --bin dify-bedrock --)
if [ -n "$host" ] && [ -x "$target_dir/$host/release/dify-bedrock" ]; then
    packager=("$target_dir/$host/release/dify-bedrock")
fi
exec "${packager[@]}" package --root "$root" --target-dir "$target_dir" --targets "$targets" "$@"
