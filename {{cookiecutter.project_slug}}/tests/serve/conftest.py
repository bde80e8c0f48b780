import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from ..conftest import free_port, stop, wait_for


@pytest.fixture(scope="session")
def live_service(bundle_dir):
    """The real thing: `python -m <package>.serve` (uvicorn) on 127.0.0.1, stopped by PID."""
    port = free_port()
    env = os.environ | {
        "MODEL_URI": str(bundle_dir),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/readyz", timeout=60, process=process)
    except Exception:
        stop(process)
        pytest.fail(f"the service did not become ready:\n{process.stdout.read()}")
    yield url, process
    stop(process)


@contextmanager
def service(bundle: Path, **env: str):
    """`python -m <package>.serve` on 127.0.0.1 for this bundle, stopped by PID."""
    port = free_port()
    env = (
        os.environ
        | {
            "MODEL_URI": str(bundle),
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "warning",
        }
        | env
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/readyz", timeout=60, process=process)
        yield url
    finally:
        stop(process)
