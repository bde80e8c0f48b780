"""The ECR repository for `make push`, against moto_server (AWS's API on 127.0.0.1).

moto checks the API calls and keeps the repository, its tags, scan setting and
lifecycle policy, and hands out a token; it is not a registry, so the push itself
is tested against a real registry by the template's tests.
"""

import json
import urllib.request

import boto3
import pytest
from rich.console import Console

from {{ cookiecutter.package_name }}.deploy.aws import CREATED_BY, AwsTarget
from {{ cookiecutter.package_name }}.deploy.aws_settings import AwsSettings
from {{ cookiecutter.package_name }}.deploy.ecr import REPOSITORY, EcrRepository

from ..conftest import moto_server, use_fake_aws


@pytest.fixture(scope="module")
def moto_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def settings(moto_endpoint, monkeypatch):
    use_fake_aws(monkeypatch, moto_endpoint)
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"))
    return AwsSettings(_env_file=None, app="learner-app", owner="ada@example.com")


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


def test_destroy_deletes_only_the_repository_it_made(settings, tmp_path):
    EcrRepository(settings, "learner-app").ensure(keep=5)
    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName="someone-elses")
    target = AwsTarget(settings.model_copy(update={"state_dir": tmp_path}), Console(quiet=True))
    teardown = target.destroy()
    assert teardown.removed == ["ECR repository learner-app"] and teardown.left == []
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert names == ["someone-elses"]
    assert target.destroy().removed == []  # nothing left: nothing to do


def test_destroy_finds_the_repository_make_push_uses(tmp_path, settings):
    defaults = AwsSettings(_env_file=None, state_dir=tmp_path)  # the names as baked
    EcrRepository(defaults, REPOSITORY).ensure(keep=5)
    assert AwsTarget(defaults, Console(quiet=True)).destroy().removed == [
        f"ECR repository {REPOSITORY}"
    ]


def test_each_models_image_goes_to_an_ecr_repository_of_its_own(tmp_path, monkeypatch):
    """One repository per model, named as `make docker-build` names its image: another
    model's v1 never overwrites this project's v1, nor spends its lifecycle policy's room."""
    from {{ cookiecutter.package_name }}.container.images import image_name
    from {{ cookiecutter.package_name }}.deploy import ecr

    from ..container.test_push import pushed_model

    made: list[str] = []

    class Repository:  # ECR's side as `make push` sees it (moto is no registry)
        def __init__(self, settings, name: str) -> None:
            made.append(name)
            self.name = name

        def ensure(self, keep: int) -> str:
            return f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{self.name}"

        def login(self) -> dict:
            return {}

    monkeypatch.setattr(ecr, "EcrRepository", Repository)
    monkeypatch.chdir(tmp_path)
    for model in (REPOSITORY, "second-model"):
        engine, record = pushed_model(tmp_path, model, "ecr")
        assert made[-1] == image_name(model)
        assert record["repository"].endswith(f"/{image_name(model)}")
        assert engine.pushed[0] == f"{record['repository']}:v1"
    assert made == [REPOSITORY, f"{REPOSITORY}-second-model"]
