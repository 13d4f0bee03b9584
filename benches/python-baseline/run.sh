#!/usr/bin/env bash
# Baseline for BENCHMARKS.md: the Python plugin runtime this project replaces, measured
# the same way as benches/startup.rs — spawn to first heartbeat, and idle resident memory.
# It runs a minimal model-provider plugin on the official SDK (dify_plugin 0.7.4, the newest
# this machine's Python installs) with boto3 imported, as the Python Bedrock plugin does;
# the real plugin loads more on top. Needs PyPI. Usage: benches/python-baseline/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${TMPDIR:-/tmp}/dify-bedrock-python-baseline"
mkdir -p "$work"
if [ ! -x "$work/venv/bin/python" ]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet dify_plugin==0.7.4 boto3
fi
# The plugin directory: our declarations, and a Python provider with no models wired.
rm -rf "$work/plugin" && mkdir -p "$work/plugin/provider"
cp -r "$root/manifest.yaml" "$root/models" "$root/_assets" "$work/plugin/"
cp "$root/provider/bedrock.yaml" "$work/plugin/provider/bedrock.yaml"
cat >> "$work/plugin/provider/bedrock.yaml" <<'YAML'
extra:
  python:
    provider_source: provider/bedrock.py
    model_sources: []
YAML
cat > "$work/plugin/provider/bedrock.py" <<'PY'
import boto3  # noqa: F401  (the Python Bedrock plugin imports it at start)
from dify_plugin import ModelProvider


class BedrockProvider(ModelProvider):
    def validate_provider_credentials(self, credentials: dict) -> None:
        pass
PY
cat > "$work/plugin/main.py" <<'PY'
from dify_plugin import DifyPluginEnv, Plugin

plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=120))

if __name__ == "__main__":
    plugin.run()
PY
"$work/venv/bin/python" - "$work" <<'PY'
import os, subprocess, sys, time, statistics
work = sys.argv[1]
env = dict(os.environ, INSTALL_METHOD="local")
def spawn():
    return subprocess.Popen([f"{work}/venv/bin/python", "-m", "main"], cwd=f"{work}/plugin", env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def heartbeat(p):
    for line in p.stdout:
        if b'"heartbeat"' in line:
            return
    raise SystemExit("the plugin exited before its first heartbeat")
times = []
for _ in range(10):
    t = time.monotonic(); p = spawn(); heartbeat(p); times.append(time.monotonic() - t); p.kill(); p.wait()
times.sort()
print(f"spawn to first heartbeat over 10 runs: min {times[0]*1000:.0f} ms, median {statistics.median(times)*1000:.0f} ms")
p = spawn(); heartbeat(p); time.sleep(2)
status = open(f"/proc/{p.pid}/status").read()
rss = next(l for l in status.splitlines() if l.startswith("VmRSS")).split()[1]
print(f"idle resident memory after 2 s: {rss} KiB")
p.kill(); p.wait()
PY
