#!/usr/bin/env bash
# Build the static musl binaries the .difypkg ships.
#
#   packaging/build-binaries.sh [x86_64] [aarch64]      (default: both)
#
# Each lands in target/package/<triple>/release/dify-bedrock (override the directory
# with DIFY_BEDROCK_PACKAGE_TARGET_DIR). A separate cargo target dir, so this build never
# waits on, or invalidates, the everyday debug and release builds.
#
# For each target: `rustup target add` when it is not installed, then one
# `cargo zigbuild --release` for all of them (zig links both; no C cross toolchain is
# needed: TLS uses ring, whose C and assembly zig compiles). A target that cannot be
# installed or built is reported and skipped; the others are still built.
# Exit status: 0 if at least one target was built, 1 if none.
# Prints the built targets' names on stdout, one per line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target_dir="${DIFY_BEDROCK_PACKAGE_TARGET_DIR:-$root/target/package}"
tools="$target_dir/tools"

say() { echo "build-binaries.sh: $*" >&2; }

declare -A triples=([x86_64]=x86_64-unknown-linux-musl [aarch64]=aarch64-unknown-linux-musl)
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(x86_64 aarch64)
for arch in "${wanted[@]}"; do
    [ -n "${triples[$arch]:-}" ] || { say "error: unknown target $arch (x86_64 or aarch64)"; exit 2; }
done

bash "$here/setup-tools.sh" "$tools"
# cargo-zigbuild finds zig as `python3 -m ziglang`: the venv's python3 has it.
export PATH="$tools/bin:$PATH"

installed=()
failed=()
for arch in "${wanted[@]}"; do
    triple="${triples[$arch]}"
    if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$triple"; then
        say "adding the Rust target $triple"
        if ! rustup target add "$triple" >&2; then
            say "warning: cannot install the Rust target $triple (is the toolchain server reachable?); skipping $arch"
            failed+=("$arch: rustup target add $triple failed")
            continue
        fi
    fi
    installed+=("$arch")
done

build() {
    local flags=()
    for arch in "$@"; do flags+=(--target "${triples[$arch]}"); done
    CARGO_TARGET_DIR="$target_dir" cargo zigbuild --release --bin dify-bedrock "${flags[@]}" >&2
}

built=()
if [ ${#installed[@]} -gt 0 ]; then
    start=$SECONDS
    say "building ${installed[*]} (cargo zigbuild --release, target dir $target_dir)"
    # One cargo run for every target lets both cores work (codegen-units = 1 makes each
    # crate one job); if it fails, each target alone shows which one is broken.
    if build "${installed[@]}"; then
        built=("${installed[@]}")
    elif [ ${#installed[@]} -gt 1 ]; then
        say "the joint build failed; building each target alone"
        for arch in "${installed[@]}"; do
            if build "$arch"; then built+=("$arch"); else failed+=("$arch: cargo zigbuild failed (see above)"); fi
        done
    else
        failed+=("${installed[0]}: cargo zigbuild failed (see above)")
    fi
    say "build took $((SECONDS - start)) s"
fi

for arch in "${built[@]}"; do
    bin="$target_dir/${triples[$arch]}/release/dify-bedrock"
    say "built $arch: $bin ($(stat -c %s "$bin") bytes)"
    echo "$arch"
done
for f in "${failed[@]}"; do say "NOT BUILT $f"; done
[ ${#built[@]} -gt 0 ] || { say "error: no binary was built"; exit 1; }
