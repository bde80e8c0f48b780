"""`make monitor` against a release deployed on the tests' separate host (tests/harness/vm.py).

The container writes its request log into a host folder mounted as its log volume
(~/.coldstart/<app>/requests; the VM's deploy user is this user, so the test sees it);
`make drift-demo` sends traffic through `make tunnel`; `make monitor` fetches the log
over SSH, compares it with the bundle's reference and reports.
"""

import json
import re
import shutil
from pathlib import Path

import pytest

from .harness.sshd import free_port
from .test_deploy_ssh import make, tunnel

pytestmark = pytest.mark.slow
KEY = "monitor-key-5d1e0f77a2"
HOST_LOGS = Path.home() / ".coldstart" / "churn-predictor" / "requests"


@pytest.fixture(scope="module")
def deploy_env(vm, docker_engine):
    return vm.env() | {
        "DOCKER_HOST": docker_engine.url,
        "DEPLOY_REMOTE_PORT": str(free_port()),
        "DEPLOY_HEALTH_TIMEOUT": "90",
        "API_KEY": KEY,
    }


def test_make_monitor_fetches_the_deployed_log_and_reports(shipped_project, deploy_env, vm):
    # `make destroy` keeps a host's request log unless asked (DESTROY_LOGS=1), and the test
    # VM's home is this machine's: start from no log, whatever earlier deploys left.
    shutil.rmtree(HOST_LOGS, ignore_errors=True)
    try:
        result = make(shipped_project, deploy_env, "deploy")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        with tunnel(shipped_project, deploy_env) as url:
            port = url.rsplit(":", 1)[1]
            demo = make(shipped_project, deploy_env, "drift-demo", PORT=port, API_KEY=KEY)
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        # The log is on the host, in the folder mounted as the container's log volume.
        lines = (HOST_LOGS / "requests.jsonl").read_text().splitlines()
        assert len(lines) == 2040 and json.loads(lines[0])["model_version"] == "1"

        # The most recent rows: drift-demo's shifted phase (1,000 rows and the generator's 2%
        # duplicates), as the README's exercise does.
        monitor = make(shipped_project, deploy_env, "monitor", MONITOR_ROWS="1020")
        # The monitor exits 1 on drift; make reports any failed command as its own status 2.
        assert monitor.returncode == 2 and "Error 1" in monitor.stderr, monitor.stderr[-3000:]
        assert f"Fetched 1 log file(s) from {vm.address}" in monitor.stdout
        report = (shipped_project / "reports" / "monitoring.md").read_text()
        assert f"{vm.address}:~/.coldstart/churn-predictor/requests" in report
        drifted = re.search(r"^## Drifted: (.*)$", report, re.MULTILINE).group(1).split(", ")
        # drift-demo's defaults: the first numeric and the first categorical column.
        assert set(drifted) - {"prediction"} == {"age", "contract"}
    finally:
        make(shipped_project, deploy_env, "destroy", DESTROY_LOGS="1")
