"""Provision one EC2 instance for the service, find it again by its tags, and remove it all.

Everything created carries the same tags (project, owner, created-by, ttl), and
.deploy/state.json records the region and every id as soon as it exists, so
`make destroy` removes what was really deployed, then lists every tagged
resource left in that region and keeps the local key until none is. The
instance carries its own cost guard (cost_guard.py): it powers off at a
deadline, and powering off terminates it.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import boto3
from botocore.exceptions import ClientError, NoRegionError, WaiterError
from rich.console import Console

from . import state
from .aws_settings import AwsSettings
from .cost_guard import user_data
from .errors import DeployError

CREATED_BY = "coldstart"
SSH_USER = "ec2-user"  # Amazon Linux's login
# Public SSM parameters that always name the latest AMI (no hard-coded AMI ids).
AMI_PARAMETERS = {
    False: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    True: "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id",
}
# Every state but "terminated": a stopped instance still bills for its disk.
NOT_TERMINATED = ["pending", "running", "shutting-down", "stopping", "stopped"]
DISK_GB = 30


@dataclass
class Kind:
    """One kind of tagged resource: how to list ours, and how to remove one."""

    name: str
    tagged: Callable[[], list[str]]
    remove: Callable[[str], None]
    settle: Callable[[list[str]], None] = field(default=lambda ids: None)


@dataclass
class Teardown:
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)  # files on this machine: the key, the record


class AwsTarget:
    def __init__(self, settings: AwsSettings, console: Console, region: str | None = None):
        self.settings, self.console = settings, console
        # AWS_REGION is the cross-SDK name; boto3 itself reads AWS_DEFAULT_REGION and your profile.
        region = region or settings.aws_region or os.environ.get("AWS_REGION") or None
        session = boto3.Session(region_name=region)
        known = session.get_available_regions("ec2")
        if session.region_name and session.region_name not in known:
            raise DeployError(
                f"'{session.region_name}' is not an AWS region. Use one such as "
                f"{', '.join(known[:4])}... in AWS_REGION or DEPLOY_AWS_REGION."
            )
        try:
            self.ec2 = session.client("ec2")
            self.ssm = session.client("ssm")
            self.sts = session.client("sts")
        except NoRegionError as error:
            raise DeployError(
                "No AWS region set: set AWS_REGION (or DEPLOY_AWS_REGION, or a region in `aws configure`)."
            ) from error
        self.region = self.ec2.meta.region_name
        self.name = settings.app
        self.key_file = settings.state_dir / f"{self.name}.pem"

    # --- helpers -------------------------------------------------------------
    @property
    def instance_type(self) -> str:
        return self.settings.gpu_instance_type if self.settings.gpu else self.settings.instance_type

    def tags(self, deadline: datetime) -> list[dict]:
        return [
            {"Key": "Name", "Value": self.name},
            {"Key": "project", "Value": self.name},
            {"Key": "owner", "Value": self.settings.owner},
            {"Key": "created-by", "Value": CREATED_BY},
            {"Key": "ttl", "Value": deadline.isoformat(timespec="seconds")},
        ]

    def ours(self) -> list[dict]:
        return [
            {"Name": "tag:project", "Values": [self.name]},
            {"Name": "tag:created-by", "Values": [CREATED_BY]},
        ]

    def record(self, **values) -> dict:
        return state.record(
            self.settings.state_dir, target="aws", region=self.region, app=self.name, **values
        )

    def check_access(self) -> None:
        self.sts.get_caller_identity()  # no credentials: explained by target_aws
        offered = self.ec2.describe_instance_type_offerings(
            LocationType="region",
            Filters=[{"Name": "instance-type", "Values": [self.instance_type]}],
        )["InstanceTypeOfferings"]
        if not offered:
            raise DeployError(
                f"{self.instance_type} is not offered in {self.region}: choose another region or "
                "DEPLOY_INSTANCE_TYPE / DEPLOY_GPU_INSTANCE_TYPE."
            )

    # --- resources -----------------------------------------------------------
    def key_pair(self, deadline: datetime) -> str:
        existing = self.ec2.describe_key_pairs(Filters=self.ours())["KeyPairs"]
        if existing:
            if not self.key_file.exists():
                raise DeployError(
                    f"Key pair {self.name} exists in AWS but {self.key_file} is missing here. "
                    "Run `make destroy` and deploy again."
                )
            return existing[0]["KeyName"]
        created = self.ec2.create_key_pair(
            KeyName=self.name,
            KeyType="ed25519",
            TagSpecifications=[{"ResourceType": "key-pair", "Tags": self.tags(deadline)}],
        )
        self.record(key_name=created["KeyName"], key_file=str(self.key_file))
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        # Readable by you alone (ssh refuses looser keys); .deploy/ is git-ignored.
        descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(created["KeyMaterial"])
        self.console.print(
            f"[green]✓[/] key pair {self.name} (private key in {self.key_file}, mode 600)"
        )
        return created["KeyName"]

    def security_group(self, deadline: datetime) -> str:
        existing = self.ec2.describe_security_groups(Filters=self.ours())["SecurityGroups"]
        if existing:
            return existing[0]["GroupId"]
        vpcs = self.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise DeployError(
                f"No default VPC in {self.region}: create one (aws ec2 create-default-vpc)."
            )
        group = self.ec2.create_security_group(
            GroupName=self.name,
            Description=f"{self.name}: SSH from the deployer's address only",
            VpcId=vpcs[0]["VpcId"],
            TagSpecifications=[{"ResourceType": "security-group", "Tags": self.tags(deadline)}],
        )["GroupId"]
        self.record(security_group=group)
        return group

    def allow_only(self, group: str, cidr: str) -> None:
        """Make the group's ingress exactly SSH from `cidr`: stale addresses and ports are revoked.

        The service listens on the instance's 127.0.0.1 and is reached through
        `make tunnel`, so SSH is the only port the internet may knock on.
        """
        wanted = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}
        current = self.ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
        stale = []
        for rule in current["IpPermissions"]:
            same_port = all(rule.get(k) == v for k, v in wanted.items())
            ranges = [
                r for r in rule.get("IpRanges", []) if not (same_port and r["CidrIp"] == cidr)
            ]
            other = {
                k: rule.get(k, []) for k in ("Ipv6Ranges", "UserIdGroupPairs", "PrefixListIds")
            }
            if ranges or any(other.values()):
                base = {k: rule[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in rule}
                stale.append(base | {"IpRanges": ranges} | other)
        if stale:
            self.ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=stale)
        present = any(
            all(rule.get(k) == v for k, v in wanted.items())
            and any(r["CidrIp"] == cidr for r in rule.get("IpRanges", []))
            for rule in current["IpPermissions"]
        )
        if not present:
            self.ec2.authorize_security_group_ingress(
                GroupId=group,
                IpPermissions=[wanted | {"IpRanges": [{"CidrIp": cidr, "Description": "SSH"}]}],
            )
        self.console.print(f"[green]✓[/] security group {group}: SSH from {cidr} only")

    def ami(self) -> str:
        if self.settings.ami_id:
            return self.settings.ami_id
        return self.ssm.get_parameter(Name=AMI_PARAMETERS[self.settings.gpu])["Parameter"]["Value"]

    def find_instance(self) -> dict | None:
        live = [{"Name": "instance-state-name", "Values": NOT_TERMINATED}]
        reservations = self.ec2.describe_instances(Filters=self.ours() + live)["Reservations"]
        instances = [i for r in reservations for i in r["Instances"]]
        return instances[0] if instances else None

    def launch(self, key_name: str, group: str, deadline: datetime) -> dict:
        try:
            response = self.ec2.run_instances(
                ImageId=self.ami(),
                InstanceType=self.instance_type,
                KeyName=key_name,
                SecurityGroupIds=[group],
                MinCount=1,
                MaxCount=1,
                UserData=user_data(deadline, SSH_USER),
                # IMDSv2 only: instance credentials need a session token, which blocks SSRF-style theft.
                MetadataOptions={
                    "HttpTokens": "required",
                    "HttpEndpoint": "enabled",
                    "HttpPutResponseHopLimit": 2,
                },
                BlockDeviceMappings=[
                    {
                        "DeviceName": "/dev/xvda",
                        "Ebs": {
                            "VolumeSize": DISK_GB,
                            "VolumeType": "gp3",
                            "Encrypted": True,
                            "DeleteOnTermination": True,
                        },
                    }
                ],
                # The cost guard powers off; this makes powering off terminate the instance.
                InstanceInitiatedShutdownBehavior="terminate",
                TagSpecifications=[
                    {"ResourceType": kind, "Tags": self.tags(deadline)}
                    for kind in ("instance", "volume")
                ],
            )
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in ("VcpuLimitExceeded", "InstanceLimitExceeded"):
                raise DeployError(
                    f"AWS quota: no room for a {self.instance_type} ({code}). GPU types need a quota "
                    "increase first: Service Quotas > EC2 > 'Running On-Demand G and VT instances'."
                ) from error
            raise
        instance = response["Instances"][0]
        self.record(instance_id=instance["InstanceId"])
        return instance

    def wait_running(self, instance_id: str) -> dict:
        with self.console.status(f"Waiting for {instance_id} to run..."):
            try:
                self.ec2.get_waiter("instance_running").wait(
                    InstanceIds=[instance_id], WaiterConfig={"Delay": 5, "MaxAttempts": 60}
                )
            except WaiterError as error:
                raise DeployError(f"{instance_id} did not reach 'running': {error}") from error
        return self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0][
            "Instances"
        ][0]

    def provision(self, cidr: str, deadline: datetime) -> dict:
        """Key pair, firewall (exactly `cidr`) and instance: found or created; wait until it runs."""
        instance = self.find_instance()
        key_name = self.key_pair(deadline)
        group = self.security_group(deadline)
        self.allow_only(group, cidr)
        if instance is None:
            instance = self.launch(key_name, group, deadline)
            self.console.print(
                f"[green]✓[/] launched {instance['InstanceId']} ({self.instance_type}), "
                f"ends itself at {deadline:%Y-%m-%d %H:%M} UTC"
            )
        else:
            self.console.print(
                f"[green]✓[/] found {instance['InstanceId']} (tagged project={self.name})"
            )
        instance = self.wait_running(instance["InstanceId"])
        return self.record(
            instance_id=instance["InstanceId"],
            instance_type=instance["InstanceType"],
            public_ip=instance.get("PublicIpAddress", ""),
            ssh_user=SSH_USER,
        )

    # --- tearing down -----------------------------------------------------------
    def kinds(self) -> list[Kind]:
        """Every kind of resource a deploy may leave, in the order they can be removed.

        Add any further tagged resource here (list ours, remove one): destroy and
        its verification both go through this list.
        """
        return [
            Kind("instance", self.tagged_instances, self.terminate, self.wait_terminated),
            Kind("elastic IP", self.tagged_addresses, self.release_address),
            Kind("volume", self.tagged_volumes, lambda v: self.ec2.delete_volume(VolumeId=v)),
            Kind(
                "security group",
                self.tagged_groups,
                lambda g: self.ec2.delete_security_group(GroupId=g),
            ),
            Kind("key pair", self.tagged_keys, lambda k: self.ec2.delete_key_pair(KeyName=k)),
            *self.registry_kinds(),
        ]

    def registry_kinds(self) -> list[Kind]:
        """The ECR repository `make push` creates, in projects that have it (kubernetes=yes)."""
        try:
            from .ecr import tagged_repositories
        except ImportError:  # baked without `make push`: no repository to look for
            return []
        ecr = boto3.Session(region_name=self.region).client("ecr")
        return [
            Kind(
                "ECR repository",
                lambda: tagged_repositories(ecr, self.name),
                lambda name: ecr.delete_repository(repositoryName=name, force=True),
            )
        ]

    def tagged_instances(self) -> list[str]:
        live = [{"Name": "instance-state-name", "Values": NOT_TERMINATED}]
        reservations = self.ec2.describe_instances(Filters=self.ours() + live)["Reservations"]
        return [i["InstanceId"] for r in reservations for i in r["Instances"]]

    def tagged_addresses(self) -> list[str]:
        return [
            a["AllocationId"] for a in self.ec2.describe_addresses(Filters=self.ours())["Addresses"]
        ]

    def tagged_volumes(self) -> list[str]:
        return [v["VolumeId"] for v in self.ec2.describe_volumes(Filters=self.ours())["Volumes"]]

    def tagged_groups(self) -> list[str]:
        groups = self.ec2.describe_security_groups(Filters=self.ours())["SecurityGroups"]
        return [g["GroupId"] for g in groups]

    def tagged_keys(self) -> list[str]:
        return [k["KeyName"] for k in self.ec2.describe_key_pairs(Filters=self.ours())["KeyPairs"]]

    def terminate(self, instance_id: str) -> None:
        self.ec2.terminate_instances(InstanceIds=[instance_id])

    def wait_terminated(self, ids: list[str]) -> None:
        with self.console.status(f"Terminating {', '.join(ids)}..."):
            self.ec2.get_waiter("instance_terminated").wait(
                InstanceIds=ids, WaiterConfig={"Delay": 5, "MaxAttempts": 60}
            )

    def release_address(self, allocation_id: str) -> None:
        address = self.ec2.describe_addresses(AllocationIds=[allocation_id])["Addresses"][0]
        if "AssociationId" in address:
            self.ec2.disassociate_address(AssociationId=address["AssociationId"])
        self.ec2.release_address(AllocationId=allocation_id)

    def destroy(self) -> Teardown:
        """Remove every tagged resource, one failure not stopping the rest; then look again."""
        result = Teardown()
        for kind in self.kinds():
            ids = kind.tagged()
            gone = []
            for resource in ids:
                try:
                    kind.remove(resource)
                    gone.append(resource)
                except ClientError as error:
                    code = error.response["Error"]["Code"]
                    result.failed.append(
                        f"{kind.name} {resource}: {code}: {error.response['Error'].get('Message', '')}"
                    )
            if gone:
                try:
                    kind.settle(gone)
                except WaiterError as error:
                    result.failed.append(f"{kind.name} {', '.join(gone)}: {error}")
            result.removed += [f"{kind.name} {resource}" for resource in gone]
        result.left = [
            f"{kind.name} {resource}" for kind in self.kinds() for resource in kind.tagged()
        ]
        recorded_region = state.load(self.settings.state_dir).get("region", self.region)
        # Only when nothing is left where the deploy went may the local record and key go.
        if not result.left and recorded_region == self.region:
            for local in (self.key_file, state.state_file(self.settings.state_dir)):
                if local.exists():
                    local.unlink()
                    result.local.append(str(local))
        return result
