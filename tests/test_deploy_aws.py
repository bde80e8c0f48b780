"""`make deploy TARGET=aws` against moto_server, then the SSH step on the loopback sshd.

moto stands in for EC2 (strict instance-type, AMI and key-pair validation);
DEPLOY_SSH_HOST points the container step at the real sshd + Docker engine,
since moto's instances are not machines one can reach.
"""

import json
import stat
import sys
import urllib.request

import boto3
import pytest

from .conftest import run_in
from .harness.sshd import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def aws_env(moto_server, sshd, docker_engine):
    port = free_port()
    return sshd.env() | {
        "DOCKER_HOST": docker_engine.url,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DEPLOY_ALLOWED_CIDR": "198.51.100.7/32",  # nothing outside is reachable to look it up
        "DEPLOY_REMOTE_PORT": str(port),
        "DEPLOY_HEALTH_TIMEOUT": "90",
    }


def make(project, env, *targets: str, target: str = "aws"):
    return run_in(project, "make", *targets, f"PY={sys.executable}", f"TARGET={target}", env=env)


def tagged_count(env) -> list[int]:
    ec2 = boto3.client("ec2", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    ours = [{"Name": "tag:created-by", "Values": ["coldstart"]}]
    instances = [
        i for r in ec2.describe_instances(Filters=ours)["Reservations"] for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]  # fmt: skip
    groups = ec2.describe_security_groups(Filters=ours)["SecurityGroups"]
    keys = ec2.describe_key_pairs(Filters=ours)["KeyPairs"]
    return [len(instances), len(groups), len(keys)]


def test_aws_deploy_status_redeploy_and_destroy(shipped_project, aws_env):
    try:
        result = make(shipped_project, aws_env, "deploy")
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        assert "launched i-" in result.stdout and "Live:" in result.stdout
        state = json.loads((shipped_project / ".deploy" / "state.json").read_text())
        assert state["instance_type"] == "t3.medium"
        key_file = shipped_project / ".deploy" / "churn-predictor.pem"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert ".deploy/" in (shipped_project / ".gitignore").read_text()

        url = f"http://127.0.0.1:{aws_env['DEPLOY_REMOTE_PORT']}/readyz"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert json.load(response)["status"] == "ready"

        again = make(shipped_project, aws_env, "deploy")
        assert again.returncode == 0 and f"found {state['instance_id']}" in again.stdout
        assert "Nothing to do." in again.stdout
        assert tagged_count(aws_env) == [1, 1, 1]

        status = make(shipped_project, aws_env, "status")
        assert status.returncode == 0 and "running" in status.stdout and "ttl_left" in status.stdout

        destroyed = make(shipped_project, aws_env, "destroy")
        assert destroyed.returncode == 0, destroyed.stderr[-3000:]
        assert f"removed instance {state['instance_id']}" in destroyed.stdout
        assert tagged_count(aws_env) == [0, 0, 0]
        assert not key_file.exists()
    finally:
        # On real AWS the containers die with the instance; here they run on the loopback host.
        make(shipped_project, aws_env, "destroy", target="ssh")
