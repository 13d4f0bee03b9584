"""The entry point Dify's plugin daemon runs (`.venv/bin/python -m main`).

The daemon only starts plugins whose runner language is Python, so this file hands the
process over to the Rust binary built for this machine. os.execv keeps the process id,
the stdin/stdout/stderr pipes, the working directory and the environment
(INSTALL_METHOD=local and the rest), so the daemon then talks to the Rust binary
directly and this interpreter is gone.

The daemon unpacks every file as 0644, so the binary first gets its execute bits back.
Where that cannot work (a read-only or noexec mount), the binary runs from an in-memory
copy instead (memfd_create), which keeps the same process, pipes and environment.

It runs at import time, not only under `if __name__ == "__main__"`, so the hand-over
happens however the module is started.
"""

import errno
import json
import os
import platform
import shutil
import sys
import time

# platform.machine() names as Linux (uname) and other systems spell them -> our builds.
_ARCHES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
}


def _say(message):
    # The daemon logs each stderr line and keeps the last ones as the launch failure.
    sys.stderr.write("dify-bedrock: " + message + "\n")
    sys.stderr.flush()


def _fail(message):
    _say(message)
    sys.exit(1)


def _warn(message):
    # The daemon reads stdout as JSON lines: a `log` event is filed at its level, where
    # any other text would be logged as a protocol error.
    event = {
        "event": "log",
        "session_id": None,
        "data": {"level": "WARNING", "message": message, "timestamp": time.time()},
    }
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()
    _say(message)


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


# Linux 6.3+: without MFD_EXEC, vm.memfd_noexec=1 makes a memfd non-executable.
_MFD_EXEC = 0x0010


def _memfd(name):
    try:
        return os.memfd_create(name, os.MFD_CLOEXEC | _MFD_EXEC)
    except OSError as e:
        # Older kernels do not know the flag.
        if e.errno != errno.EINVAL:
            raise
        return os.memfd_create(name, os.MFD_CLOEXEC)


def _exec_from_memory(path, argv, why):
    """Runs a copy of the binary from memory: same process, pipes and environment."""
    try:
        fd = _memfd(os.path.basename(path))
        with open(path, "rb") as src, open(fd, "wb", closefd=False) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (OSError, AttributeError) as e:  # AttributeError: no os.memfd_create
        _fail("cannot start %s: %s, and cannot copy it to memory: %s" % (path, why, e))
    # exec replaces this process on success, so the warning goes first.
    _warn("%s: %s; running an in-memory copy of it instead" % (path, why))
    try:
        if os.execve in os.supports_fd:
            # fexecve needs no /proc; argv[0] stays the binary's path.
            os.execve(fd, argv, os.environ)
        os.execv("/proc/self/fd/%d" % fd, argv)
    except OSError as e:
        _fail("cannot start %s: %s, nor its in-memory copy: %s" % (path, why, e))


def _exec():
    path = _binary()
    argv = [path] + sys.argv[1:]
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        _fail("cannot start %s: %s" % (path, e))
    if mode & 0o111 != 0o111:
        try:
            os.chmod(path, mode | 0o755)
        except OSError as e:
            why = "cannot make it executable (%s)" % (e.strerror or e)
            _exec_from_memory(path, argv, why)
    try:
        os.execv(path, argv)
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM):
            _fail("cannot start %s: %s" % (path, e))
        # Executable yet refused: a noexec mount. Memory is not mounted noexec.
        why = "cannot execute it where it is (%s)" % (e.strerror or e)
        _exec_from_memory(path, argv, why)


_exec()
