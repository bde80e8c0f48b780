"""`make push` to a real registry, `make k8s`, and the image run under the manifest's rules.

The registry is Debian's docker-registry on 127.0.0.1; the engine is the tests' real
Docker engine. No cluster: the pod's constraints are read from the rendered
Deployment and applied to a plain container, which must still answer /readyz.
"""

import json
import re
import secrets
import sys
import time
import urllib.request

import pytest
import yaml

from .conftest import bake, run_in
from .harness.sshd import free_port

pytestmark = pytest.mark.slow


def make(project, *targets: str, env: dict):
    result = run_in(project, "make", *targets, f"PY={sys.executable}", env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


@pytest.fixture(scope="module")
def pushed(shipped_project, registry, docker_engine) -> dict:
    env = {"DOCKER_HOST": docker_engine.url, "DEPLOY_REGISTRY": f"{registry.host}/team"}
    # docker-build first, as a learner would: other tests' projects build images under the
    # same name (churn-predictor:v1), and `make push` must push this project's own.
    make(shipped_project, "docker-build", "push", "k8s", env=env)
    return json.loads((shipped_project / "build" / "push.json").read_text())


def test_push_tags_with_model_version_and_commit(pushed, shipped_project, registry):
    metadata = json.loads((shipped_project / "models/churn-predictor/metadata.json").read_text())
    commit = run_in(shipped_project, "git", "rev-parse", "--short", "HEAD").stdout.strip()
    url = f"http://{registry.host}/v2/team/churn-predictor"
    with urllib.request.urlopen(f"{url}/tags/list", timeout=10) as response:
        tags = json.load(response)["tags"]
    version = metadata["version"]
    assert sorted(tags) == sorted([f"v{version}", f"v{version}-{commit}"])
    assert "latest" not in tags
    # Every tag names the digest that make push wrote down.
    for tag in tags:
        request = urllib.request.Request(f"{url}/manifests/{tag}", method="HEAD")
        request.add_header("Accept", "application/vnd.docker.distribution.manifest.v2+json")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Docker-Content-Digest"] == pushed["digest"]


def test_image_pulls_back_by_digest(pushed, docker_engine, shipped_project):
    client = docker_engine.client()
    pulled = client.images.pull(pushed["image"])
    metadata = json.loads((shipped_project / "models/churn-predictor/metadata.json").read_text())
    local = client.images.get(f"churn-predictor:v{metadata['version']}")
    assert pulled.id == local.id
    assert pushed["image"] in pulled.attrs["RepoDigests"]


def deployment(project) -> dict:
    objects = yaml.safe_load_all((project / "build" / "k8s" / "cpu.yaml").read_text())
    return next(o for o in objects if o["kind"] == "Deployment")


def test_manifests_carry_the_pushed_image(pushed, shipped_project):
    for overlay in ("cpu", "gpu"):
        text = (shipped_project / "build" / "k8s" / f"{overlay}.yaml").read_text()
        assert f"image: {pushed['image']}" in text


def quantity(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(m|Mi|Gi)?", str(text)).groups()
    return float(number) * {"m": 0.001, "Mi": 2**20, "Gi": 2**30}.get(unit, 1)


def container_options(pod: dict, api_key: str) -> dict:
    """The Docker equivalents of the pod's constraints, read from the manifest."""
    spec = pod["containers"][0]
    security = spec["securityContext"]
    pod_security = pod["securityContext"]
    # Plain values as they are; API_KEY (from a Secret in the cluster) gets a fresh key.
    env = {e["name"]: e.get("value", api_key) for e in spec["env"]}
    empty_dirs = {v["name"]: v["emptyDir"] for v in pod["volumes"] if "emptyDir" in v}
    # An emptyDir is a fresh, world-writable folder (mode 777): so is each tmpfs here.
    tmpfs = {}
    for mount in spec["volumeMounts"]:
        if mount["name"] in empty_dirs:
            size = int(quantity(empty_dirs[mount["name"]]["sizeLimit"]))
            tmpfs[mount["mountPath"]] = f"size={size},mode=1777"
    limits = spec["resources"]["limits"]
    return {
        "user": f"{pod_security['runAsUser']}:{pod_security['runAsGroup']}",
        "read_only": security["readOnlyRootFilesystem"],
        "cap_drop": security["capabilities"]["drop"],
        "security_opt": [] if security["allowPrivilegeEscalation"] else ["no-new-privileges"],
        "environment": env,
        "tmpfs": tmpfs,
        "mem_limit": int(quantity(limits["memory"])),
        "nano_cpus": int(quantity(limits["cpu"]) * 1e9),
    }


def test_image_runs_under_the_manifest_constraints(pushed, shipped_project, docker_engine):
    pod = deployment(shipped_project)["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
    port = spec["ports"][0]["containerPort"]
    options = container_options(pod, api_key=secrets.token_urlsafe(32))
    client = docker_engine.client()
    image = client.images.get(spec["image"])  # the manifest's image, by digest
    assert image.attrs["Config"]["User"] == options["user"]
    host_port = free_port()
    container = client.containers.run(
        spec["image"], detach=True, ports={f"{port}/tcp": ("127.0.0.1", host_port)}, **options
    )
    try:
        paths = {spec[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe")}
        deadline = time.monotonic() + 120
        for path in sorted(paths, reverse=True):  # /readyz first: the model is loaded
            while True:
                container.reload()
                assert container.status != "exited", container.logs().decode()[-3000:]
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{host_port}{path}", timeout=3
                    ) as r:
                        assert r.status == 200
                        break
                except OSError:
                    assert time.monotonic() < deadline, container.logs().decode()[-3000:]
                    time.sleep(1)
        assert container.exec_run("id -u").output.decode().strip() == str(
            pod["securityContext"]["runAsUser"]
        )
        assert container.exec_run("touch /app/x").exit_code != 0  # read-only root
        capabilities = container.exec_run("grep CapEff /proc/self/status").output.decode()
        assert capabilities.split()[-1] == "0000000000000000"
    finally:
        container.remove(force=True)


def test_cluster_commands_say_when_none_is_configured(pushed, shipped_project, tmp_path):
    empty = tmp_path / "kubeconfig"
    empty.write_text("")
    for target in ("k8s-apply", "k8s-status", "k8s-delete"):
        result = run_in(
            shipped_project, "make", target, f"PY={sys.executable}",
            env={"KUBECONFIG": str(empty)},
        )  # fmt: skip
        assert result.returncode != 0, target
        assert "No cluster configured" in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr


def test_measured_use_fits_the_manifest_limits(pushed, shipped_project, docker_engine):
    result = make(shipped_project, "k8s-measure", env={"DOCKER_HOST": docker_engine.url})
    figures = re.search(
        r"peak (\d+) MiB; peak CPU ([\d.]+) cores \((\d+) predictions", result.stdout
    )
    assert figures, result.stdout[-2000:]
    peak_mib, cores, served = float(figures[1]), float(figures[2]), int(figures[3])
    assert served > 0 and cores > 0
    spec = deployment(shipped_project)["spec"]["template"]["spec"]["containers"][0]
    limits, requests = spec["resources"]["limits"], spec["resources"]["requests"]
    # The memory request covers what was measured, with room under the limit.
    assert peak_mib * 2**20 < quantity(requests["memory"]) < quantity(limits["memory"])


def test_push_to_a_registry_that_does_not_answer_fails_clearly(shipped_project, docker_engine):
    registry = f"127.0.0.1:{free_port()}/team"  # nothing listens there
    result = run_in(
        shipped_project, "make", "push", f"PY={sys.executable}",
        env={"DOCKER_HOST": docker_engine.url, "DEPLOY_REGISTRY": registry},
    )  # fmt: skip
    assert result.returncode != 0
    # One line on stderr, as every command fails (cli.run): the image, the registry, why.
    assert f"error: Pushing {registry}/churn-predictor:v" in result.stderr
    assert "failed" in result.stderr and "Traceback" not in result.stdout + result.stderr


def test_generated_ecr_tests_pass_in_an_aws_bake(tmp_path):
    """The default bakes have no AWS code; this one runs the ECR tests against moto_server."""
    project = bake(tmp_path, deploy_target="aws")
    result = run_in(
        project, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "tests/deploy/test_ecr.py", "tests/container/test_push.py",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " skipped" not in result.stdout
