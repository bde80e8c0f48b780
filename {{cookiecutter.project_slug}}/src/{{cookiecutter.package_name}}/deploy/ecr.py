"""The ECR repository `make push` uses on AWS: created if missing, tagged, scanned, pruned.

Tagged like every other resource here (project, owner, created-by), so `make destroy`
can tell the repository it made from one you made yourself, and only deletes its own.
Images are scanned for known vulnerabilities on push; a lifecycle policy keeps the
newest N images, so old ones stop costing storage.
"""

import base64
import json
import os

import boto3
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError
from pydantic import Field

from ..config import PROJECT
from .aws import CREATED_BY
from .aws_settings import AwsSettings
from .errors import DeployError

# The repository `make push` uses for this project's own model: named after its image. Another
# model's image goes to a repository of its own name (container/images.py), so that its tags
# and this lifecycle policy's count never touch this one's.
REPOSITORY = PROJECT


class EcrSettings(AwsSettings):
    # ECR's lifecycle policy keeps this many images; older ones are deleted by AWS.
    ecr_keep_images: int = Field(10, ge=1)


def lifecycle_policy(keep: int) -> str:
    rule = {
        "rulePriority": 1,
        "description": f"keep the newest {keep} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
        "action": {"type": "expire"},
    }
    return json.dumps({"rules": [rule]})


class EcrRepository:
    def __init__(self, settings: AwsSettings, name: str):
        region = settings.aws_region or os.environ.get("AWS_REGION") or None
        try:
            self.ecr = boto3.Session(region_name=region).client("ecr")
        except NoRegionError as error:
            raise DeployError(
                "No AWS region set: set AWS_REGION (or DEPLOY_AWS_REGION, or a region in `aws configure`)."
            ) from error
        self.settings, self.name = settings, name

    def tags(self) -> list[dict]:
        return [
            {"Key": "Name", "Value": self.name},
            {"Key": "project", "Value": self.settings.app},
            {"Key": "owner", "Value": self.settings.owner},
            {"Key": "created-by", "Value": CREATED_BY},
        ]

    def find(self) -> dict | None:
        try:
            found = self.ecr.describe_repositories(repositoryNames=[self.name])
        except self.ecr.exceptions.RepositoryNotFoundException:
            return None
        except NoCredentialsError as error:
            raise DeployError(
                "No AWS credentials found: run `aws configure`, or set AWS_PROFILE (see docs/deploy.md)."
            ) from error
        return found["repositories"][0]

    def is_ours(self, repository: dict) -> bool:
        return is_ours(self.ecr, repository, self.settings.app)

    def ensure(self, keep: int) -> str:
        """The repository's URI, creating it (tagged, scan on push) if missing."""
        repository = self.find()
        if repository is None:
            repository = self.ecr.create_repository(
                repositoryName=self.name,
                tags=self.tags(),
                imageScanningConfiguration={"scanOnPush": True},
                encryptionConfiguration={"encryptionType": "AES256"},
            )["repository"]
            print(f"created ECR repository {repository['repositoryUri']}")
        if self.is_ours(repository):
            self.ecr.put_lifecycle_policy(
                repositoryName=self.name, lifecyclePolicyText=lifecycle_policy(keep)
            )
        return repository["repositoryUri"]

    def login(self) -> dict:
        """A Docker SDK auth_config from ECR's 12-hour token (never written to disk)."""
        try:
            data = self.ecr.get_authorization_token()["authorizationData"][0]
        except ClientError as error:
            raise DeployError(f"ECR refused a login token: {error}") from error
        username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        return {"username": username, "password": password, "serveraddress": data["proxyEndpoint"]}


def is_ours(ecr, repository: dict, app: str) -> bool:
    """Tagged by this project's deploy code (ECR cannot filter repositories by tag)."""
    listed = ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"])
    tags = {t["Key"]: t["Value"] for t in listed.get("tags", [])}
    return tags.get("created-by") == CREATED_BY and tags.get("project") == app


def tagged_repositories(ecr, app: str) -> list[str]:
    """For `make destroy`'s list of resources: the names of this project's repositories."""
    pages = ecr.get_paginator("describe_repositories").paginate()
    return [
        r["repositoryName"] for page in pages for r in page["repositories"] if is_ours(ecr, r, app)
    ]
