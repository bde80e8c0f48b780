"""Bake projects from the template and run what they generate.

Every baked project shares this test session's environment (the template's
.venv, which holds all the generated projects' dependencies): a project's code
is put on PYTHONPATH instead of being installed into a fresh virtualenv per bake.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

# `make test` runs this session from make, whose MAKELEVEL and MAKEFLAGS would turn every
# project's `make` into a sub-make that adds "make[1]: Leaving directory" to the output the
# tests read. A learner types `make` at a shell; the tests run it as they do.
for _inherited in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"):
    os.environ.pop(_inherited, None)

TEMPLATE = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"
DEFAULTS = {"package_name": "churn_predictor", "project_slug": "churn-predictor"}


def require(condition: bool, reason: str) -> None:
    """Skip when a component is missing on a user's machine, but fail under CI=true."""
    if not condition:
        if IN_CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


def bake(output_dir: Path, **context: str) -> Path:
    return Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=context, output_dir=str(output_dir)
        )
    )


def project_env(project: Path) -> dict[str, str]:
    """The environment a baked project runs in: its src/ on the path, this interpreter's tools."""
    return os.environ | {
        "PYTHONPATH": str(project / "src"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
    }


def run_in(
    project: Path, *command: str, timeout: float = 900, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=project,
        env=project_env(project) | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Figures measured during the run (image size, times), printed at the end of the session.
MEASUREMENTS: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter):
    if MEASUREMENTS:
        terminalreporter.section("coldstart measurements")
        for name, value in MEASUREMENTS.items():
            terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture(scope="session")
def docker_engine():
    """A real Docker engine: the running one, or a dockerd we start and stop by PID."""
    from .harness.docker_engine import EngineUnavailable, start_engine

    try:
        engine = start_engine()
    except EngineUnavailable as error:
        require(False, str(error))
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def base_image(docker_engine) -> str:
    """The generated Dockerfile's FROM image: present, or fabricated with debootstrap."""
    from .harness.docker_engine import EngineUnavailable, ensure_base_image

    started = time.monotonic()
    try:
        tag = ensure_base_image(docker_engine.client())
    except (EngineUnavailable, subprocess.CalledProcessError) as error:
        require(False, f"cannot make the base image: {error}")
    MEASUREMENTS["base image ready in"] = f"{time.monotonic() - started:.0f}s"
    return tag


@pytest.fixture
def baker(tmp_path):
    def make(**context: str) -> Path:
        return bake(tmp_path, **context)

    return make


@pytest.fixture(scope="session")
def default_project(tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="session")
def sshd(tmp_path_factory, docker_engine):
    """The stand-in VM: OpenSSH on 127.0.0.1 in front of the tests' Docker engine."""
    from .harness.sshd import SshdUnavailable, start_sshd

    try:
        server = start_sshd(tmp_path_factory.mktemp("sshd"), docker_engine.url)
    except SshdUnavailable as error:
        require(False, str(error))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vm(tmp_path_factory):
    """A separate host: own network namespace, sshd and empty Docker engine (tests/harness/vm.py)."""
    from .harness.vm import SshdUnavailable, VmUnavailable, start_vm

    try:
        machine = start_vm(tmp_path_factory.mktemp("vm"))
    except (VmUnavailable, SshdUnavailable) as error:
        require(False, f"cannot start the test VM: {error}")
    yield machine
    machine.stop()


@pytest.fixture(scope="session")
def shipped_project(tmp_path_factory, docker_engine, base_image) -> Path:
    """A baked project (deploy_target=both), trained, with its image built."""
    project = bake(tmp_path_factory.mktemp("shipped"), deploy_target="both")
    result = run_in(project, "make", "data", "train", f"PY={sys.executable}")
    assert result.returncode == 0, result.stderr[-3000:]
    # Secret-looking and data files lie around: the image must not pick them up.
    (project / ".env").write_text("API_KEY=this-must-never-reach-the-image-0123\n")
    started = time.monotonic()
    result = run_in(
        project, sys.executable, "-m", "churn_predictor.container", "build",
        env={"DOCKER_HOST": docker_engine.url},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Model: churn-predictor v1 (MODEL_URI=models/churn-predictor)" in result.stdout
    MEASUREMENTS["image build"] = f"{time.monotonic() - started:.0f}s"
    return project


@pytest.fixture(scope="session")
def moto_server():
    """AWS's API on 127.0.0.1 (moto_server), with its strict validation switched on."""
    import shutil
    import urllib.request

    from .harness.sshd import free_port

    executable = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    require(Path(executable).exists(), "moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    strict = {
        "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "1",
        "MOTO_ENABLE_AMI_VALIDATION": "1",
        "MOTO_ENABLE_KEYPAIR_VALIDATION": "1",
    }
    process = subprocess.Popen(
        [executable, "-H", "127.0.0.1", "-p", str(port)],
        env=os.environ | strict,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A real image registry on 127.0.0.1 (Debian's docker-registry), stopped by PID."""
    from .harness.registry import RegistryUnavailable, start_registry

    try:
        server = start_registry(tmp_path_factory.mktemp("registry"))
    except RegistryUnavailable as error:
        require(False, str(error))
    yield server
    server.stop()
