"""The ECR repository for `make push`, against moto_server (AWS's API on 127.0.0.1).

moto checks the API calls and keeps the repository, its tags, scan setting and
lifecycle policy, and hands out a token; it is not a registry, so the push itself
is tested against a real registry by the template's tests.
"""

import json
import urllib.request

import boto3
import pytest

from {{ cookiecutter.package_name }}.deploy.aws import CREATED_BY
from {{ cookiecutter.package_name }}.deploy.ecr import REPOSITORY, EcrRepository, delete_repository
from {{ cookiecutter.package_name }}.deploy.settings import DeploySettings

from ..conftest import moto_server, use_fake_aws


@pytest.fixture(scope="module")
def moto_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def settings(moto_endpoint, monkeypatch):
    use_fake_aws(monkeypatch, moto_endpoint)
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"))
    return DeploySettings(_env_file=None, app="learner-app", owner="ada@example.com")


def test_repository_is_created_tagged_scanned_and_pruned(settings):
    uri = EcrRepository(settings, "learner-app").ensure(keep=7)
    again = EcrRepository(settings, "learner-app").ensure(keep=7)
    assert uri == again and uri.endswith("/learner-app")
    ecr = boto3.client("ecr")
    [repository] = ecr.describe_repositories()["repositories"]
    assert repository["imageScanningConfiguration"]["scanOnPush"] is True
    tags = {
        t["Key"]: t["Value"]
        for t in ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"])["tags"]
    }
    assert tags["created-by"] == CREATED_BY and tags["project"] == "learner-app"
    assert tags["owner"] == "ada@example.com"
    policy = json.loads(
        ecr.get_lifecycle_policy(repositoryName="learner-app")["lifecyclePolicyText"]
    )
    [rule] = policy["rules"]
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["selection"]["countNumber"] == 7 and rule["action"]["type"] == "expire"


def test_login_comes_from_an_authorization_token(settings):
    auth = EcrRepository(settings, "learner-app").login()
    assert auth["username"] == "AWS" and auth["password"]
    assert auth["serveraddress"].startswith("https://")


def test_destroy_deletes_only_the_repository_it_made(settings):
    uri = EcrRepository(settings, "learner-app").ensure(keep=5)
    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName="someone-elses")
    assert delete_repository(settings, "someone-elses") == []
    assert delete_repository(settings, "learner-app") == [f"ECR repository {uri}"]
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert names == ["someone-elses"]
    assert delete_repository(settings, "learner-app") == []  # nothing left: nothing to do


def test_destroy_finds_the_repository_make_push_uses(settings):
    defaults = DeploySettings(_env_file=None)  # the app and repository names as baked
    uri = EcrRepository(defaults, REPOSITORY).ensure(keep=5)
    assert delete_repository(defaults) == [f"ECR repository {uri}"]
