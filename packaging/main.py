"""The entry point Dify's plugin daemon runs (`.venv/bin/python -m main`).

The daemon only starts plugins whose runner language is Python, so this file hands the
process over to the Rust binary built for this machine. os.execv keeps the process id,
the stdin/stdout/stderr pipes, the working directory and the environment
(INSTALL_METHOD=local and the rest), so the daemon then talks to the Rust binary
directly and this interpreter is gone.

It runs at import time, not only under `if __name__ == "__main__"`, so the hand-over
happens however the module is started.
"""

import os
import platform
import sys

# platform.machine() names as Linux (uname) and other systems spell them -> our builds.
_ARCHES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
}


def _fail(message):
    # The daemon keeps the last lines of stderr and shows them as the launch failure.
    sys.stderr.write("dify-bedrock: " + message + "\n")
    sys.stderr.flush()
    sys.exit(1)


def _binary():
    here = os.path.dirname(os.path.abspath(__file__))
    bin_dir = os.path.join(here, "bin")
    machine = platform.machine()
    arch = _ARCHES.get(machine.lower())
    try:
        shipped = sorted(os.listdir(bin_dir))
    except OSError:
        shipped = []
    if arch is None:
        _fail(
            "no binary for this machine (platform.machine() = %r); this package has: %s"
            % (machine, ", ".join(shipped) or "no binaries")
        )
    path = os.path.join(bin_dir, "dify-bedrock-%s-linux-musl" % arch)
    if not os.path.isfile(path):
        _fail(
            "this package has no %s binary (machine %r); it has: %s"
            % (arch, machine, ", ".join(shipped) or "no binaries")
        )
    return path


def _exec():
    path = _binary()
    try:
        mode = os.stat(path).st_mode
        # The daemon unpacks every file as 0644: give the binary its execute bits back.
        if mode & 0o111 != 0o111:
            os.chmod(path, mode | 0o755)
        os.execv(path, [path] + sys.argv[1:])
    except OSError as e:
        _fail("cannot start %s: %s" % (path, e))


_exec()
