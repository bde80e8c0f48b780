import os
import subprocess
import sys

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
