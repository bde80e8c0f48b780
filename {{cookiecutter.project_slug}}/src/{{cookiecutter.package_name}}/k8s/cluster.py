"""`make k8s-apply | k8s-status | k8s-delete`: kubectl against the cluster of its current context.

Each command first checks that kubectl has a cluster and that it answers, and says how
to get one if not. The API key travels to the cluster in a Secret sent on kubectl's
standard input: never on a command line, never in a file in the project.
"""

import base64
import subprocess
from pathlib import Path

import yaml

from ..config import where_set
from .errors import KubeError
from .render import BUILD_DIR, kubectl
from .settings import KubeSettings

NO_CLUSTER = (
    "No cluster configured: kubectl has no current context. On a laptop: `kind create "
    "cluster` or `minikube start`; on EKS: `aws eks update-kubeconfig --name <cluster>`. "
    "See docs/kubernetes.md."
)


def run(*args: str, stdin: str | None = None, check: bool = True) -> str:
    result = subprocess.run(
        [kubectl(), *args], input=stdin, capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        raise KubeError(f"kubectl {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout


def require_cluster() -> str:
    """The current context's name, once its API server has answered."""
    context = subprocess.run(
        [kubectl(), "config", "current-context"], capture_output=True, text=True
    )
    if context.returncode != 0:
        raise KubeError(NO_CLUSTER)
    name = context.stdout.strip()
    reached = subprocess.run(
        [kubectl(), "version", "--request-timeout=5s", "-o", "json"],
        capture_output=True,
        text=True,
    )
    if reached.returncode != 0 or "serverVersion" not in reached.stdout:
        raise KubeError(
            f"kubectl's context {name!r} does not answer ({reached.stderr.strip()[-300:]}). "
            "Is the cluster running? (`kind get clusters`, `minikube status`)"
        )
    return name


# A key of the pods' own would be a second key: `make predict` sends API_KEY, and gets 401.
RENAMED = "K8S_API_KEY"


def refuse_a_second_key(env_file: Path = Path(".env")) -> None:
    where = where_set(RENAMED, env_file)
    if where:
        raise KubeError(
            f"{RENAMED} ({where}) is not read: the service has one key, API_KEY, wherever it "
            f"runs (make serve, make predict, the pods). Rename {RENAMED}= to API_KEY=."
        )


def secret_manifest(settings: KubeSettings) -> str:
    refuse_a_second_key()
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    if len(key) < 16:
        raise KubeError(
            "The pods need API_KEY (16+ characters) in .env: generate one with "
            'python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{settings.app}-api-key"},
        "type": "Opaque",
        "data": {"API_KEY": base64.b64encode(key.encode()).decode()},
    }
    return yaml.safe_dump(secret)


def manifest(overlay: str) -> Path:
    path = BUILD_DIR / f"{overlay}.yaml"
    if not path.is_file():
        raise KubeError(f"No {path}: run `make k8s` first.")
    return path


def apply(settings: KubeSettings) -> str:
    path = manifest(settings.overlay)
    context = require_cluster()
    run("apply", "-f", "-", stdin=secret_manifest(settings))
    applied = run("apply", "-f", str(path))
    run("rollout", "status", f"deployment/{settings.app}", "--timeout=300s")
    return f"Applied {path} to {context}:\n{applied}"


def status(settings: KubeSettings) -> str:
    context = require_cluster()
    kinds = "deployment,replicaset,pod,service,hpa,pdb,networkpolicy"
    listing = run("get", kinds, "-l", f"app.kubernetes.io/name={settings.app}", "-o", "wide")
    return (
        f"Context {context}:\n{listing}\nTry it: kubectl port-forward service/{settings.app} "
        "8000:8000, then http://127.0.0.1:8000/docs"
    )


def delete(settings: KubeSettings) -> str:
    path = manifest(settings.overlay)
    context = require_cluster()
    deleted = run("delete", "-f", str(path), "--ignore-not-found")
    deleted += run("delete", "secret", f"{settings.app}-api-key", "--ignore-not-found")
    return f"Deleted from {context}:\n{deleted}"
