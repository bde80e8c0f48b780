"""`make deploy DEPLOY_TARGET=aws` against moto_server, with the separate test VM as the instance.

moto stands in for EC2 (strict instance-type, AMI and key-pair validation);
DEPLOY_AWS_SSH_HOST points the container step at the test VM (its own network
namespace, sshd and empty Docker engine), since moto's instances are not
machines one can reach, while a DEPLOY_SSH_HOST left from an SSH deploy names
another host, which must never receive the release. Then a plain `make destroy`
from a shell with another region set must leave nothing tagged in the deploy's region.
"""

import json
import stat
import sys

import boto3
import pytest

from .conftest import run_in
from .harness.sshd import free_port

pytestmark = pytest.mark.slow
REGION = "us-east-1"


# An SSH deploy's host, still in .env: 127.0.0.1:22 (the VM's port), where the VM is not.
STALE_SSH_HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def aws_env(moto_server, vm, docker_engine, shipped_project):
    # One record per folder: an AWS deploy refuses while .deploy/state.json records an SSH
    # release (another module's, run before this one): that release is destroyed first.
    record = shipped_project / ".deploy" / "state.json"
    if record.exists() and json.loads(record.read_text()).get("target") == "ssh":
        ssh_env = vm.env() | {"DOCKER_HOST": docker_engine.url, "DEPLOY_TARGET": "ssh"}
        result = make(shipped_project, ssh_env, "destroy", DESTROY_LOGS="1")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return vm.env() | {
        "DEPLOY_AWS_SSH_HOST": vm.address,
        "DEPLOY_SSH_HOST": STALE_SSH_HOST,
        "DOCKER_HOST": docker_engine.url,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "DEPLOY_ALLOWED_CIDR": "198.51.100.7/32",  # nothing outside is reachable to look it up
        "DEPLOY_REMOTE_PORT": str(free_port()),
        "DEPLOY_HEALTH_TIMEOUT": "90",
        "DEPLOY_YES": "1",
    }


def make(project, env, *targets: str, **extra: str):
    return run_in(project, "make", *targets, f"PY={sys.executable}", env=env | extra)


def tagged(env) -> dict[str, int]:
    ec2 = boto3.client("ec2", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    ours = [{"Name": "tag:created-by", "Values": ["coldstart"]}]
    instances = [
        i for r in ec2.describe_instances(Filters=ours)["Reservations"] for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]  # fmt: skip
    return {
        "instances": len(instances),
        "groups": len(ec2.describe_security_groups(Filters=ours)["SecurityGroups"]),
        "keys": len(ec2.describe_key_pairs(Filters=ours)["KeyPairs"]),
        "volumes": len(ec2.describe_volumes(Filters=ours)["Volumes"]),
        "addresses": len(ec2.describe_addresses(Filters=ours)["Addresses"]),
    }


def test_aws_deploy_ignores_a_stale_ssh_host_then_plain_destroy_from_another_region(
    shipped_project, aws_env, vm
):
    try:
        result = make(shipped_project, aws_env, "deploy", DEPLOY_TARGET="aws")
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        out = " ".join(result.stdout.split())
        # The release went to DEPLOY_AWS_SSH_HOST (the instance here), said so, not to the old host.
        assert f"Ignoring DEPLOY_SSH_HOST={STALE_SSH_HOST}" in out
        assert f"Live: churn-predictor:latest on {vm.address}" in out
        assert "t3.medium in us-east-1" in out and "USD an hour" in out and "at most" in out
        assert "launched i-" in out and "Live:" in out
        state = json.loads((shipped_project / ".deploy" / "state.json").read_text())
        assert state["target"] == "aws" and state["region"] == REGION
        key_file = shipped_project / ".deploy" / "churn-predictor.pem"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert vm.client().containers.get("churn-predictor").status == "running"

        again = make(shipped_project, aws_env, "deploy", DEPLOY_TARGET="aws")
        assert again.returncode == 0 and f"found {state['instance_id']}" in again.stdout
        assert "Nothing to do." in again.stdout
        assert tagged(aws_env)["instances"] == 1

        # A plain `make destroy`, from a shell set to another region, with no target named.
        other = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "DEPLOY_TARGET": ""}
        destroyed = make(shipped_project, aws_env | other, "destroy")
        assert destroyed.returncode == 0, destroyed.stdout[-3000:] + destroyed.stderr[-3000:]
        assert f"removed instance {state['instance_id']}" in destroyed.stdout
        assert "The request log on the instance goes with its disk" in " ".join(
            destroyed.stdout.split()
        )
        assert tagged(aws_env) == dict.fromkeys(tagged(aws_env), 0)
        assert not key_file.exists()
    finally:
        # On real AWS the containers die with the instance; here they run on the test VM.
        make(shipped_project, aws_env, "destroy", DEPLOY_TARGET="ssh", DEPLOY_SSH_HOST=vm.address,
             DESTROY_LOGS="1")  # fmt: skip


def test_make_extend_without_an_instance_is_a_clear_error(shipped_project, aws_env, tmp_path):
    # Nothing deployed from this folder: extend says so instead of guessing a host.
    state_dir = str(tmp_path / ".deploy")
    result = make(shipped_project, aws_env, "extend", "HOURS=2", DEPLOY_STATE_DIR=state_dir)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "Nothing deployed to AWS from here" in " ".join(result.stderr.split())
    missing = make(shipped_project, aws_env, "extend", DEPLOY_STATE_DIR=state_dir)
    assert missing.returncode != 0 and "make extend HOURS=2" in missing.stderr
