"""Benchmark: this project's image size against the image `mlflow models build-docker` makes.

Both are built for the same registered model with the local Docker engine; the
MLflow one from the Dockerfile that `mlflow models generate-dockerfile` writes
(what build-docker builds). Target: ours at most a third of MLflow's.

    python bench/bench_image.py
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer

sys.path.insert(0, str(Path.cwd() / "src"))

from {{ cookiecutter.package_name }}.container.__main__ import build, engine
from {{ cookiecutter.package_name }}.container.images import BUNDLE

TARGET_RATIO = 1 / 3


def mlflow_image(client, metadata: dict) -> tuple[str, float]:
    model_uri = f"models:/{metadata['name']}/{metadata['version']}"
    with tempfile.TemporaryDirectory(prefix="mlflow-docker-") as folder:
        env = os.environ | {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        }
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "generate-dockerfile",
                "-m",
                model_uri,
                "--output-directory",
                folder,
            ],
            check=True,
            env=env,
            capture_output=True,
        )
        started = time.monotonic()
        image, _ = client.images.build(path=folder, tag="mlflow-served-model:bench", rm=True)
        return image.attrs["Size"] / 1e6, time.monotonic() - started


def main() -> int:
    client = engine()
    started = time.monotonic()
    ours = client.images.get(build(client)).attrs["Size"] / 1e6
    # build() copied the bundle MODEL_URI names (default: this data set's champion) here.
    metadata = json.loads((BUNDLE / "metadata.json").read_text())
    ours_seconds = time.monotonic() - started
    theirs, theirs_seconds = mlflow_image(client, metadata)
    ratio = ours / theirs
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"\nImage sizes for {metadata['name']} v{metadata['version']} ({metadata['model']})")
    print(f"  ratio: ours / mlflow = {ratio:.2f} ({verdict} the 1/3 target)")
    print(f"  this project:          {ours:7.0f} MB (built in {ours_seconds:.0f}s)")
    print(f"  mlflow build-docker:   {theirs:7.0f} MB (built in {theirs_seconds:.0f}s)")
    return 0


def command() -> None:
    """Build this project's image and MLflow's for the same model; compare their sizes."""
    raise typer.Exit(main())


if __name__ == "__main__":
    typer.run(command)
