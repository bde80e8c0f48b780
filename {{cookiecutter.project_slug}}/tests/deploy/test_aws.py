"""AWS provisioning and teardown against moto_server (AWS's API on 127.0.0.1), strict validation on.

Checks what is sent (instance type, IMDSv2, encrypted disk, tags, the firewall,
the cost guard in user-data), that a second deploy finds the same resources and
re-aims the firewall, and that destroy works in the recorded region, removes
every tagged resource, reports what it could not, and keeps the key until then.
"""

import base64
import shutil
import stat
import subprocess
import urllib.request
from datetime import datetime

import pytest
import yaml
from pydantic import ValidationError
from rich.console import Console

from {{ cookiecutter.package_name }}.deploy import state
from {{ cookiecutter.package_name }}.deploy.aws import CREATED_BY, AwsTarget
from {{ cookiecutter.package_name }}.deploy.aws_settings import AwsSettings
from {{ cookiecutter.package_name }}.deploy.cost_guard import deadline_after, user_data
from {{ cookiecutter.package_name }}.deploy.errors import DeployError

from ..conftest import moto_server, use_fake_aws

CIDR = "198.51.100.7/32"
OTHER_CIDR = "203.0.113.9/32"
KINDS = ("instances", "groups", "keys", "volumes", "addresses")


@pytest.fixture(scope="module", name="moto_endpoint")
def moto_endpoint_fixture():
    strict = {
        "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "1",
        "MOTO_ENABLE_AMI_VALIDATION": "1",
        "MOTO_ENABLE_KEYPAIR_VALIDATION": "1",
    }
    with moto_server(**strict) as endpoint:
        yield endpoint


def settings_for(tmp_path, **overrides) -> AwsSettings:
    values = {"allowed_cidr": CIDR, "state_dir": tmp_path / ".deploy", "app": "learner-app"}
    return AwsSettings(_env_file=None, **(values | overrides))


@pytest.fixture(name="aws")
def aws_fixture(moto_endpoint, monkeypatch, tmp_path):
    use_fake_aws(monkeypatch, moto_endpoint)
    # The cross-SDK AWS_REGION (which boto3 alone ignores) must be enough.
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    # Each test starts from an empty (fake) AWS account.
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"))
    return AwsTarget(settings_for(tmp_path), Console(quiet=True))


def provision(aws: AwsTarget, cidr: str = CIDR) -> dict:
    return aws.provision(cidr, deadline_after(aws.settings.ttl_hours))


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
    if kind == "keys":
        return ec2.describe_key_pairs(Filters=ours)["KeyPairs"]
    if kind == "volumes":
        return ec2.describe_volumes(Filters=ours)["Volumes"]
    return ec2.describe_addresses(Filters=ours)["Addresses"]


def counts(ec2) -> list[int]:
    return [len(tagged(ec2, kind)) for kind in KINDS]


def ingress(ec2) -> set:
    group = tagged(ec2, "groups")[0]
    return {(p["FromPort"], r["CidrIp"]) for p in group["IpPermissions"] for r in p["IpRanges"]}


def test_provision_sends_a_safe_instance(aws):
    recorded = provision(aws)
    ec2 = aws.ec2
    instance = ec2.describe_instances(InstanceIds=[recorded["instance_id"]])["Reservations"][0][
        "Instances"
    ][0]
    assert instance["InstanceType"] == "t3.medium"
    assert instance["MetadataOptions"]["HttpTokens"] == "required"  # IMDSv2
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert {"project", "owner", "created-by", "ttl"} <= set(tags) and tags[
        "created-by"
    ] == CREATED_BY
    behaviour = ec2.describe_instance_attribute(
        InstanceId=recorded["instance_id"], Attribute="instanceInitiatedShutdownBehavior"
    )
    assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    volumes = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [recorded["instance_id"]]}]
    )["Volumes"]
    assert volumes and all(v["Encrypted"] for v in volumes)
    # The service is reached through `make tunnel`: SSH is the only open port, to the caller only.
    assert ingress(ec2) == {(22, CIDR)}
    assert stat.S_IMODE(aws.key_file.stat().st_mode) == 0o600
    assert state.load(aws.settings.state_dir) == recorded
    assert recorded["target"] == "aws" and recorded["region"] == "us-east-1"


def test_firewall_follows_the_caller_and_drops_stale_rules(aws):
    provision(aws)
    group = tagged(aws.ec2, "groups")[0]["GroupId"]
    aws.ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "IpRanges": [{"CidrIp": CIDR}]}
        ],
    )
    provision(aws, OTHER_CIDR)  # the learner deploys again from another network
    assert ingress(aws.ec2) == {(22, OTHER_CIDR)}


def test_user_data_arms_the_cost_guard_first_at_every_boot(aws):
    recorded = provision(aws)
    raw = aws.ec2.describe_instance_attribute(
        InstanceId=recorded["instance_id"], Attribute="userData"
    )
    text = base64.b64decode(raw["UserData"]["Value"]).decode()
    config = yaml.safe_load(text)
    assert text.startswith("#cloud-config") and "docker" in config["packages"]
    # bootcmd runs at every boot and before packages: the guard does not wait for Docker.
    assert list(config)[0] == "bootcmd" and "coldstart-cost-guard" in config["bootcmd"][0]
    assert not any("shutdown" in str(command) for command in config.get("runcmd", []))
    ttl = {t["Key"]: t["Value"] for t in tagged(aws.ec2, "instances")[0]["Tags"]}["ttl"]
    assert text == user_data(datetime.fromisoformat(ttl), "ec2-user")
    cloud_init = shutil.which("cloud-init")
    if cloud_init:  # the real validator, where installed
        path = aws.settings.state_dir / "user-data.yaml"
        path.write_text(text)
        result = subprocess.run(
            [cloud_init, "schema", "--config-file", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_second_deploy_reuses_everything(aws):
    first = provision(aws)
    second = provision(aws)
    assert first["instance_id"] == second["instance_id"]
    assert counts(aws.ec2)[:3] == [1, 1, 1]


def test_destroy_uses_the_recorded_region_whatever_the_shell_says(aws, monkeypatch, tmp_path):
    provision(aws)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # another shell, another region
    elsewhere = AwsTarget(settings_for(tmp_path), Console(quiet=True), region="eu-west-1")
    assert elsewhere.destroy().left == []  # nothing there...
    assert aws.key_file.exists(), "...so the key of the us-east-1 instance must stay"

    from {{ cookiecutter.package_name }}.deploy import target_aws

    assert target_aws.destroy(settings_for(tmp_path), Console(quiet=True)) is True
    assert counts(aws.ec2) == [0, 0, 0, 0, 0]
    assert not aws.key_file.exists() and state.load(aws.settings.state_dir) == {}


def test_destroy_removes_every_kind_and_reports_what_it_could_not(aws):
    recorded = provision(aws)
    ec2 = aws.ec2
    ec2.stop_instances(InstanceIds=[recorded["instance_id"]])  # stopped still bills for its disk
    tags = [{"Key": "project", "Value": "learner-app"}, {"Key": "created-by", "Value": CREATED_BY}]
    spec = lambda kind: [{"ResourceType": kind, "Tags": tags}]  # noqa: E731
    ec2.allocate_address(Domain="vpc", TagSpecifications=spec("elastic-ip"))
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, TagSpecifications=spec("volume"))
    # A tagged disk attached to someone else's instance cannot be deleted: VolumeInUse.
    stuck = ec2.create_volume(
        AvailabilityZone="us-east-1a", Size=1, TagSpecifications=spec("volume")
    )
    other = ec2.run_instances(
        ImageId=ec2.describe_images()["Images"][0]["ImageId"],
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        Placement={"AvailabilityZone": "us-east-1a"},
    )
    ec2.attach_volume(
        VolumeId=stuck["VolumeId"],
        InstanceId=other["Instances"][0]["InstanceId"],
        Device="/dev/sdf",
    )

    result = aws.destroy()
    assert result.left == [f"volume {stuck['VolumeId']}"]
    assert any(stuck["VolumeId"] in item and "VolumeInUse" in item for item in result.failed)
    assert any(item.startswith("instance ") for item in result.removed)
    assert counts(ec2) == [0, 0, 0, 1, 0], "one failure does not stop the others"
    assert aws.key_file.exists() and state.load(aws.settings.state_dir), (
        "kept while something is left"
    )

    ec2.terminate_instances(InstanceIds=[other["Instances"][0]["InstanceId"]])  # frees the disk
    assert aws.destroy().left == []
    assert not aws.key_file.exists() and state.load(aws.settings.state_dir) == {}


def test_gpu_asks_for_a_gpu_type_and_ami(aws):
    aws.settings = aws.settings.model_copy(update={"gpu": True})
    assert provision(aws)["instance_type"] == "g4dn.xlarge"


def test_unknown_instance_type_is_a_clear_error(aws):
    aws.settings = aws.settings.model_copy(update={"instance_type": "t3.gigantic"})
    with pytest.raises(DeployError, match="t3.gigantic is not offered in us-east-1"):
        aws.check_access()


def test_wrong_region_is_a_clear_error(aws):
    with pytest.raises(DeployError, match="'eu-middle-7' is not an AWS region"):
        AwsTarget(
            aws.settings.model_copy(update={"aws_region": "eu-middle-7"}), Console(quiet=True)
        )


def test_ttl_is_capped_unless_the_ceiling_is_raised(tmp_path):
    with pytest.raises(ValidationError, match="DEPLOY_TTL_MAX_HOURS"):
        settings_for(tmp_path, ttl_hours=48)
    assert settings_for(tmp_path, ttl_hours=48, ttl_max_hours=72).ttl_hours == 48
