#!/usr/bin/env bash
# `make demo`: bake a default project, make its data, train, serve, predict, stop.
# Uses the template's .venv (PY) for the project too, so nothing is installed twice.
set -euo pipefail
PY=${PY:-.venv/bin/python}
template=$(cd "$(dirname "$0")/.." && pwd)
workdir=$(mktemp -d -t coldstart-demo-XXXX)
server=""
cleanup() {
    # The server runs in its own process group (setsid): stop make, uvicorn and all.
    if [[ -n "$server" ]] && kill -0 "$server" 2>/dev/null; then
        kill -TERM -- "-$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
}
trap cleanup EXIT

echo "==> Baking a default project into $workdir"
"$PY" -m cookiecutter --no-input --output-dir "$workdir" "$template"
project="$workdir/$(ls "$workdir")"
cd "$project"
# The template's .venv has every dependency; the project's own code comes from src/.
# (A learner runs `make setup` instead, which installs the project into its own .venv.)
export PYTHONPATH="$project/src"

echo "==> make data && make train"
make data train PY="$PY"

port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "==> make serve (port $port)"
setsid make serve PY="$PY" PORT="$port" > "$workdir/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
    if "$PY" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/readyz', timeout=2)" 2>/dev/null; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then cat "$workdir/serve.log"; exit 1; fi
    sleep 0.5
done

echo "==> make predict"
make predict PY="$PY" PORT="$port"
echo "==> Done. The baked project is in $project (make help lists what else it can do)."
