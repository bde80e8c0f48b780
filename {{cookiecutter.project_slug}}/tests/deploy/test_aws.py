"""AWS provisioning against moto_server (AWS's API on 127.0.0.1), with strict validation on.

Checks what is sent: instance type, IMDSv2, encrypted volume, tags on every
resource, firewall rules limited to the caller, the cost guard in user-data;
that a second deploy finds the same resources; and that destroy leaves nothing.
"""

import base64
import shutil
import stat
import subprocess
import urllib.request

import pytest
import yaml
from rich.console import Console

from {{ cookiecutter.package_name }}.deploy.aws import CREATED_BY, AwsTarget, user_data
from {{ cookiecutter.package_name }}.deploy.settings import DeploySettings

from ..conftest import moto_server, use_fake_aws

CIDR = "198.51.100.7/32"


@pytest.fixture(scope="module")
def moto_endpoint():
    strict = {
        "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "1",
        "MOTO_ENABLE_AMI_VALIDATION": "1",
        "MOTO_ENABLE_KEYPAIR_VALIDATION": "1",
    }
    with moto_server(**strict) as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_endpoint, monkeypatch, tmp_path):
    use_fake_aws(monkeypatch, moto_endpoint)
    # The cross-SDK AWS_REGION (which boto3 alone ignores) must be enough.
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    # Each test starts from an empty (fake) AWS account.
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"))
    settings = DeploySettings(
        _env_file=None, allowed_cidr=CIDR, state_dir=tmp_path / ".deploy", app="learner-app"
    )
    return AwsTarget(settings, Console(quiet=True))


def tagged(ec2, kind: str) -> list:
    ours = [
        {"Name": "tag:created-by", "Values": [CREATED_BY]},
        {"Name": "tag:project", "Values": ["learner-app"]},
    ]
    if kind == "instances":
        reservations = ec2.describe_instances(Filters=ours)["Reservations"]
        return [
            i for r in reservations for i in r["Instances"] if i["State"]["Name"] != "terminated"
        ]
    if kind == "groups":
        return ec2.describe_security_groups(Filters=ours)["SecurityGroups"]
    return ec2.describe_key_pairs(Filters=ours)["KeyPairs"]


def test_provision_sends_a_safe_instance(aws):
    state = aws.provision()
    ec2 = aws.ec2
    instance = ec2.describe_instances(InstanceIds=[state["instance_id"]])["Reservations"][0][
        "Instances"
    ][0]
    assert instance["InstanceType"] == "t3.medium"
    assert instance["MetadataOptions"]["HttpTokens"] == "required"  # IMDSv2
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert {"project", "owner", "created-by", "ttl"} <= set(tags) and tags[
        "created-by"
    ] == CREATED_BY
    behaviour = ec2.describe_instance_attribute(
        InstanceId=state["instance_id"], Attribute="instanceInitiatedShutdownBehavior"
    )
    assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    volumes = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [state["instance_id"]]}]
    )["Volumes"]
    assert volumes and all(v["Encrypted"] for v in volumes)

    group = tagged(ec2, "groups")[0]
    rules = {(p["FromPort"], r["CidrIp"]) for p in group["IpPermissions"] for r in p["IpRanges"]}
    assert rules == {(22, CIDR), (8000, CIDR)}, "SSH and the service open to the caller only"

    key_file = aws.key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_user_data_installs_docker_and_arms_the_cost_guard(aws):
    state = aws.provision()
    raw = aws.ec2.describe_instance_attribute(InstanceId=state["instance_id"], Attribute="userData")
    text = base64.b64decode(raw["UserData"]["Value"]).decode()
    assert text == user_data(aws.settings.ttl_hours)
    config = yaml.safe_load(text)
    assert text.startswith("#cloud-config") and "docker" in config["packages"]
    assert ["shutdown", "-h", "+240", "coldstart cost guard: TTL of 4 h reached"] in config[
        "runcmd"
    ]
    cloud_init = shutil.which("cloud-init")
    if cloud_init:  # the real validator, where installed
        path = aws.settings.state_dir / "user-data.yaml"
        path.write_text(text)
        result = subprocess.run(
            [cloud_init, "schema", "--config-file", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_second_deploy_reuses_everything(aws):
    first = aws.provision()
    second = aws.provision()
    assert first["instance_id"] == second["instance_id"]
    assert [len(tagged(aws.ec2, kind)) for kind in ("instances", "groups", "keys")] == [1, 1, 1]


def test_destroy_leaves_no_tagged_resource(aws):
    aws.provision()
    removed = aws.destroy()
    assert any(item.startswith("instance ") for item in removed)
    assert [len(tagged(aws.ec2, kind)) for kind in ("instances", "groups", "keys")] == [0, 0, 0]
    assert not aws.key_file.exists() and not aws.state_file.exists()
    assert aws.destroy() == []  # nothing left: a second destroy is a no-op


def test_gpu_asks_for_a_gpu_type_and_ami(aws):
    aws.settings = aws.settings.model_copy(update={"gpu": True})
    state = aws.provision()
    assert state["instance_type"] == "g4dn.xlarge"


def test_unknown_instance_type_is_a_clear_error(aws):
    from {{ cookiecutter.package_name }}.deploy.ssh import DeployError

    aws.settings = aws.settings.model_copy(update={"instance_type": "t3.gigantic"})
    with pytest.raises(DeployError, match="t3.gigantic is not offered in us-east-1"):
        aws.provision()


def test_wrong_region_is_a_clear_error(aws):
    from {{ cookiecutter.package_name }}.deploy.ssh import DeployError

    with pytest.raises(DeployError, match="'eu-middle-7' is not an AWS region"):
        AwsTarget(
            aws.settings.model_copy(update={"aws_region": "eu-middle-7"}), Console(quiet=True)
        )
