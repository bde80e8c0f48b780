"""Provision one EC2 instance for the service, find it again by its tags, and remove it all.

Everything created carries the same tags (project, owner, created-by, ttl), so
`make destroy` finds every piece even if .deploy/state.json is lost. The
instance arms its own cost guard at boot: it shuts down when its TTL runs out,
and shutting down terminates it, so a forgotten box stops costing money.
"""

import json
import os
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, WaiterError
from rich.console import Console

from .settings import DeploySettings
from .ssh import DeployError

CREATED_BY = "coldstart"
SSH_USER = "ec2-user"  # Amazon Linux's login
# Public SSM parameters that always name the latest AMI (no hard-coded AMI ids).
AMI_PARAMETERS = {
    False: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    True: "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id",
}
GPU_INSTANCE_FAMILIES = ("g4dn", "g5", "g6", "p3", "p4", "p5")


def user_data(ttl_hours: float) -> str:
    """cloud-init: install and start Docker, then arm the TTL shutdown (the cost guard)."""
    minutes = max(1, round(ttl_hours * 60))
    return f"""#cloud-config
package_update: true
packages:
  - docker
runcmd:
  - [systemctl, enable, --now, docker]
  - [usermod, -aG, docker, {SSH_USER}]
  - [shutdown, -h, "+{minutes}", "coldstart cost guard: TTL of {ttl_hours:g} h reached"]
"""


def caller_cidr() -> str:
    """Your public IP as a /32: SSH and the service open to you alone."""
    try:
        with urllib.request.urlopen("https://checkip.amazonaws.com", timeout=10) as response:
            return f"{response.read().decode().strip()}/32"
    except OSError as error:
        raise DeployError(
            f"Could not look up your public IP ({error}). Set DEPLOY_ALLOWED_CIDR, e.g. 203.0.113.7/32."
        ) from error


class AwsTarget:
    def __init__(self, settings: DeploySettings, console: Console):
        self.settings, self.console = settings, console
        try:
            # AWS_REGION is the cross-SDK name; boto3 itself reads AWS_DEFAULT_REGION and your profile.
            region = settings.aws_region or os.environ.get("AWS_REGION") or None
            session = boto3.Session(region_name=region)
            known = session.get_available_regions("ec2")
            if session.region_name and session.region_name not in known:
                raise DeployError(
                    f"'{session.region_name}' is not an AWS region. Use one such as "
                    f"{', '.join(known[:4])}... in AWS_REGION or DEPLOY_AWS_REGION."
                )
            self.ec2 = session.client("ec2")
            self.ssm = session.client("ssm")
            self.sts = session.client("sts")
        except NoRegionError as error:
            raise DeployError(
                "No AWS region set: set AWS_REGION (or DEPLOY_AWS_REGION, or a region in `aws configure`)."
            ) from error
        self.region = self.ec2.meta.region_name
        self.name = settings.app
        self.state_file = settings.state_dir / "state.json"
        self.key_file = settings.state_dir / f"{self.name}.pem"

    # --- helpers -------------------------------------------------------------
    @property
    def instance_type(self) -> str:
        return self.settings.gpu_instance_type if self.settings.gpu else self.settings.instance_type

    def tags(self) -> list[dict]:
        expires = datetime.now(UTC) + timedelta(hours=self.settings.ttl_hours)
        return [
            {"Key": "Name", "Value": self.name},
            {"Key": "project", "Value": self.name},
            {"Key": "owner", "Value": self.settings.owner},
            {"Key": "created-by", "Value": CREATED_BY},
            {"Key": "ttl", "Value": expires.isoformat(timespec="seconds")},
        ]

    def tag_spec(self, resource: str) -> dict:
        return {"ResourceType": resource, "Tags": self.tags()}

    def ours(self) -> list[dict]:
        return [
            {"Name": "tag:project", "Values": [self.name]},
            {"Name": "tag:created-by", "Values": [CREATED_BY]},
        ]

    def check_access(self) -> None:
        try:
            self.sts.get_caller_identity()
        except NoCredentialsError as error:
            raise DeployError(
                "No AWS credentials found: run `aws configure`, or set AWS_PROFILE (see README)."
            ) from error
        except ClientError as error:
            raise DeployError(f"AWS refused the credentials: {error}") from error
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
    def key_pair(self) -> str:
        existing = self.ec2.describe_key_pairs(Filters=self.ours())["KeyPairs"]
        if existing:
            if not self.key_file.exists():
                raise DeployError(
                    f"Key pair {self.name} exists in AWS but {self.key_file} is missing here. "
                    "Run `make destroy` and deploy again."
                )
            return existing[0]["KeyName"]
        created = self.ec2.create_key_pair(
            KeyName=self.name, KeyType="ed25519", TagSpecifications=[self.tag_spec("key-pair")]
        )
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        # Readable by you alone (ssh refuses looser keys); .deploy/ is git-ignored.
        descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(created["KeyMaterial"])
        self.console.print(
            f"[green]✓[/] key pair {self.name} (private key in {self.key_file}, mode 600)"
        )
        return created["KeyName"]

    def security_group(self, cidr: str) -> str:
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
            Description=f"{self.name}: SSH and the service, from {cidr} only",
            VpcId=vpcs[0]["VpcId"],
            TagSpecifications=[self.tag_spec("security-group")],
        )["GroupId"]
        self.ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "IpRanges": [{"CidrIp": cidr, "Description": why}],
                }
                for port, why in ((22, "SSH"), (self.settings.remote_port, "prediction service"))
            ],
        )
        self.console.print(
            f"[green]✓[/] security group {group}: ports 22 and {self.settings.remote_port} from {cidr}"
        )
        return group

    def ami(self) -> str:
        if self.settings.ami_id:
            return self.settings.ami_id
        parameter = AMI_PARAMETERS[self.settings.gpu]
        return self.ssm.get_parameter(Name=parameter)["Parameter"]["Value"]

    def find_instance(self) -> dict | None:
        live = [
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
        ]
        reservations = self.ec2.describe_instances(Filters=self.ours() + live)["Reservations"]
        instances = [i for r in reservations for i in r["Instances"]]
        return instances[0] if instances else None

    def launch(self, key_name: str, group: str) -> dict:
        try:
            response = self.ec2.run_instances(
                ImageId=self.ami(),
                InstanceType=self.instance_type,
                KeyName=key_name,
                SecurityGroupIds=[group],
                MinCount=1,
                MaxCount=1,
                UserData=user_data(self.settings.ttl_hours),
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
                            "VolumeSize": 30,
                            "VolumeType": "gp3",
                            "Encrypted": True,
                            "DeleteOnTermination": True,
                        },
                    }
                ],
                # The cost guard's `shutdown` then terminates the instance instead of stopping it.
                InstanceInitiatedShutdownBehavior="terminate",
                TagSpecifications=[self.tag_spec("instance"), self.tag_spec("volume")],
            )
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in ("VcpuLimitExceeded", "InstanceLimitExceeded"):
                raise DeployError(
                    f"AWS quota: no room for a {self.instance_type} ({code}). GPU types need a quota "
                    "increase first: Service Quotas > EC2 > 'Running On-Demand G and VT instances'."
                ) from error
            raise DeployError(f"AWS refused to start the instance ({code}): {error}") from error
        return response["Instances"][0]

    # --- commands ------------------------------------------------------------
    def provision(self) -> dict:
        """Create (or find) key pair, security group and instance; wait until it runs."""
        self.check_access()
        key_name = self.key_pair()
        group = self.security_group(self.settings.allowed_cidr or caller_cidr())
        instance = self.find_instance()
        if instance is None:
            instance = self.launch(key_name, group)
            self.console.print(
                f"[green]✓[/] launched {instance['InstanceId']} ({self.instance_type})"
            )
        else:
            self.console.print(
                f"[green]✓[/] found {instance['InstanceId']} (tagged project={self.name})"
            )
        with self.console.status(f"Waiting for {instance['InstanceId']} to run..."):
            try:
                self.ec2.get_waiter("instance_running").wait(
                    InstanceIds=[instance["InstanceId"]],
                    WaiterConfig={"Delay": 5, "MaxAttempts": 60},
                )
            except WaiterError as error:
                raise DeployError(
                    f"{instance['InstanceId']} did not reach 'running': {error}"
                ) from error
        instance = self.ec2.describe_instances(InstanceIds=[instance["InstanceId"]])[
            "Reservations"
        ][0]["Instances"][0]
        state = {
            "region": self.region,
            "instance_id": instance["InstanceId"],
            "instance_type": instance["InstanceType"],
            "public_ip": instance.get("PublicIpAddress", ""),
            "security_group": group,
            "key_name": key_name,
            "key_file": str(self.key_file),
            "ssh_user": SSH_USER,
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")
        return state

    def status(self) -> dict | None:
        instance = self.find_instance()
        if instance is None:
            return None
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        left = datetime.fromisoformat(tags["ttl"]) - datetime.now(UTC) if "ttl" in tags else None
        return {
            "instance": instance["InstanceId"],
            "type": instance["InstanceType"],
            "state": instance["State"]["Name"],
            "public_ip": instance.get("PublicIpAddress", "-"),
            "ttl_left": f"{max(left.total_seconds(), 0) / 3600:.1f} h" if left else "-",
        }

    def destroy(self) -> list[str]:
        """Delete everything tagged as ours, in dependency order; say what went."""
        removed = []
        reservations = self.ec2.describe_instances(Filters=self.ours())["Reservations"]
        ids = [
            i["InstanceId"]
            for r in reservations
            for i in r["Instances"]
            if i["State"]["Name"] != "terminated"
        ]
        if ids:
            self.ec2.terminate_instances(InstanceIds=ids)
            with self.console.status(f"Terminating {', '.join(ids)}..."):
                self.ec2.get_waiter("instance_terminated").wait(
                    InstanceIds=ids, WaiterConfig={"Delay": 5, "MaxAttempts": 60}
                )
            removed += [f"instance {i}" for i in ids]
        for group in self.ec2.describe_security_groups(Filters=self.ours())["SecurityGroups"]:
            self.ec2.delete_security_group(GroupId=group["GroupId"])
            removed.append(f"security group {group['GroupId']}")
        for key in self.ec2.describe_key_pairs(Filters=self.ours())["KeyPairs"]:
            self.ec2.delete_key_pair(KeyName=key["KeyName"])
            removed.append(f"key pair {key['KeyName']}")
        for path in (self.key_file, self.state_file):
            if Path(path).exists():
                Path(path).unlink()
                removed.append(f"local file {path}")
        return removed
