#!/usr/bin/env bash
# `make bench`: bake a default project, train it, then run its benchmarks:
# training time, the service as deployed (LOG_LEVEL=info, one worker; tuned and
# WORKERS=2 variants labelled) against its stack's floor and `mlflow models serve`,
# with BENCH_PEERS=1 also against BentoML and LitServe (installed into the baked
# project's build/bench-venv only), and (when a Docker engine can be had) the image
# size against `mlflow models build-docker`.
set -euo pipefail
PY=${PY:-.venv/bin/python}
template=$(cd "$(dirname "$0")/.." && pwd)
workdir=$(mktemp -d -t coldstart-bench-XXXX)
dockerd_pid=""
cleanup() { if [[ -n "$dockerd_pid" ]]; then kill "$dockerd_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

"$PY" -m cookiecutter --no-input --output-dir "$workdir" "$template" > /dev/null
project="$workdir/$(ls "$workdir")"
cd "$project"
export PYTHONPATH="$project/src"
make data train PY="$PY" > "$workdir/train.log"
make bench PY="$PY"
if [[ "${BENCH_PEERS:-0}" == 1 ]]; then
    make bench-peers PY="$PY"
fi

# The image comparison needs an engine and a base image: the tests' harness provides both.
if engine=$(cd "$template" && "$PY" -m tests.harness.docker_engine 2> "$workdir/engine.log"); then
    eval "$engine"
    dockerd_pid=$(grep -o 'kill [0-9]*' "$workdir/engine.log" | cut -d' ' -f2 || true)
    make bench-image PY="$PY"
else
    echo "No Docker engine: skipped the image comparison ($(tail -1 "$workdir/engine.log"))."
fi
