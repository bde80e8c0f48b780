"""kubectl wrappers without a cluster: each says clearly that none is configured or answers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.k8s import cluster
from {{ cookiecutter.package_name }}.k8s.errors import KubeError
from {{ cookiecutter.package_name }}.k8s.settings import KubeSettings

from ..conftest import free_port, require_tool

ROOT = Path(__file__).resolve().parents[2]


def kube(command: str, kubeconfig) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.k8s", command],
        env=os.environ | {"KUBECONFIG": str(kubeconfig)},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_no_cluster_configured_is_said_plainly(tmp_path):
    require_tool("kubectl")
    empty = tmp_path / "kubeconfig"
    empty.write_text("")
    result = kube("status", empty)
    assert result.returncode == 1
    assert "No cluster configured" in result.stderr and "Traceback" not in result.stderr


def test_a_cluster_that_does_not_answer_is_named(tmp_path):
    require_tool("kubectl")
    config = tmp_path / "kubeconfig"
    config.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
  - name: gone
    cluster:
      server: https://127.0.0.1:{free_port()}
users:
  - name: me
    user:
      token: not-a-real-token
contexts:
  - name: laptop
    context:
      cluster: gone
      user: me
current-context: laptop
"""
    )
    result = kube("status", config)
    assert result.returncode == 1
    assert "'laptop' does not answer" in result.stderr


def test_the_api_key_must_be_set_and_strong():
    with pytest.raises(KubeError, match="API_KEY"):
        cluster.secret_manifest(KubeSettings(_env_file=None, API_KEY="short"))
    manifest = cluster.secret_manifest(KubeSettings(_env_file=None, API_KEY="k" * 32))
    assert "kind: Secret" in manifest and "k" * 32 not in manifest  # base64, as Secrets are


@pytest.mark.parametrize("where", ["in .env", "in the environment"])
def test_the_pods_key_is_api_key_and_no_other(tmp_path, monkeypatch, where):
    """K8S_API_KEY would be a second key: the pods would take it while `make predict` sends
    API_KEY, and get 401. It is refused by name, never read."""
    import base64

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("API_KEY", raising=False)
    if where == "in .env":
        (tmp_path / ".env").write_text("K8S_API_KEY=" + "k" * 32 + "\n")
    else:
        monkeypatch.setenv("K8S_API_KEY", "k" * 32)
    with pytest.raises(KubeError) as refused:
        cluster.secret_manifest(KubeSettings())
    message = str(refused.value)
    assert f"K8S_API_KEY ({where}) is not read" in message and "API_KEY=" in message
    assert "k" * 32 not in message
    monkeypatch.delenv("K8S_API_KEY", raising=False)
    (tmp_path / ".env").write_text("API_KEY=" + "a" * 32 + "\n")
    manifest = cluster.secret_manifest(KubeSettings())
    assert base64.b64encode(b"a" * 32).decode() in manifest
