"""The manifests: rendered with kubectl's kustomize, valid for Kubernetes, and true to the app.

No cluster is needed: rendering and schema validation run offline, and the policy
checks compare the manifests with the app, the Dockerfile and each other.
"""

import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.k8s import render
from {{ cookiecutter.package_name }}.k8s.errors import KubeError
from {{ cookiecutter.package_name }}.k8s.settings import KubeSettings
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

from ..conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "127.0.0.1:5000/team/{{ cookiecutter.project_slug }}@sha256:" + "a" * 64
VERSION = KubeSettings(_env_file=None).version


@pytest.fixture(scope="module")
def manifests(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """overlay -> kind -> object, rendered and validated into a temporary build folder."""
    require_tool("kubectl")
    build = tmp_path_factory.mktemp("k8s")
    render.render_all(IMAGE, VERSION, build_dir=build, k8s_dir=ROOT / "k8s")
    return {
        overlay: {o["kind"]: o for o in yaml.safe_load_all((build / f"{overlay}.yaml").read_text())}
        for overlay in render.OVERLAYS
    }


def container(objects: dict) -> dict:
    return objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]


def test_every_overlay_holds_the_whole_service(manifests):
    for objects in manifests.values():
        assert set(objects) == {
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "NetworkPolicy",
        }
        assert container(objects)["image"] == IMAGE


def test_a_wrong_field_is_refused_by_the_strict_schema():
    deployment = yaml.safe_load((ROOT / "k8s" / "base" / "deployment.yaml").read_text())
    deployment["spec"]["replica"] = 2  # a typo Kubernetes would silently ignore
    with pytest.raises(KubeError, match="replica"):
        render.validate(yaml.safe_dump(deployment), VERSION, Path("deployment.yaml"))


def test_deployment_rolls_without_a_gap(manifests):
    spec = manifests["cpu"]["Deployment"]["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_probes_point_at_endpoints_the_app_serves(manifests, bundle_dir):
    api = container(manifests["cpu"])
    paths = {
        probe: api[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert paths == {
        "startupProbe": "/readyz",
        "readinessProbe": "/readyz",
        "livenessProbe": "/livez",
    }
    settings = ServeSettings(_env_file=None, model_uri=str(bundle_dir))
    with TestClient(create_app(settings)) as client:
        for path in set(paths.values()):
            assert client.get(path).status_code == 200, path


def test_ports_agree_between_app_container_and_service(manifests):
    objects = manifests["cpu"]
    api = container(objects)
    port = api["ports"][0]
    env = {e["name"]: e.get("value") for e in api["env"]}
    assert int(env["PORT"]) == port["containerPort"] == ServeSettings(_env_file=None).port
    service_port = objects["Service"]["spec"]["ports"][0]
    assert service_port["targetPort"] in (port["name"], port["containerPort"])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert api[probe]["httpGet"]["port"] in (port["name"], port["containerPort"])
    annotations = objects["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port["containerPort"]


def test_pods_run_as_the_image_user_locked_down(manifests):
    dockerfile = (ROOT / "Dockerfile").read_text()
    uid, gid = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.M).groups()
    pod = manifests["cpu"]["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == int(uid)
    assert pod["securityContext"]["runAsGroup"] == int(gid)
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    security = container(manifests["cpu"])["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]


def test_one_worker_per_pod_and_the_key_from_a_secret(manifests):
    env = {e["name"]: e for e in container(manifests["cpu"])["env"]}
    assert env["WORKERS"]["value"] == "1" and env["OMP_NUM_THREADS"]["value"] == "1"
    assert "value" not in env["API_KEY"]
    assert env["API_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "API_KEY"


def test_selectors_hpa_and_pdb_find_the_pods(manifests):
    objects = manifests["cpu"]
    deployment = objects["Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selectors = [
        deployment["spec"]["selector"]["matchLabels"],
        objects["Service"]["spec"]["selector"],
        objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        objects["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"],
        *[
            spread["labelSelector"]["matchLabels"]
            for spread in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        ],
    ]
    for selector in selectors:
        assert selector.items() <= pod_labels.items()
    hpa = objects["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_resources_are_set_and_requests_fit_in_limits(manifests):
    units = {"m": 0.001, "Mi": 2**20, "Gi": 2**30}

    def amount(text) -> float:
        match = re.fullmatch(r"([\d.]+)(m|Mi|Gi)?", str(text))
        assert match is not None, f"not a Kubernetes quantity: {text!r}"
        number, unit = match.groups()
        return float(number) * units.get(unit, 1)

    resources = container(manifests["cpu"])["resources"]
    for kind in ("cpu", "memory"):
        assert amount(resources["requests"][kind]) <= amount(resources["limits"][kind])


def test_gpu_overlay_asks_for_a_gpu_and_cpu_overlay_does_not(manifests):
    gpu_pod = manifests["gpu"]["Deployment"]["spec"]["template"]["spec"]
    assert container(manifests["gpu"])["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert any(t["key"] == "nvidia.com/gpu" for t in gpu_pod["tolerations"])
    assert gpu_pod["nodeSelector"]
    cpu_pod = manifests["cpu"]["Deployment"]["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in yaml.safe_dump(manifests["cpu"])
    assert "tolerations" not in cpu_pod and "nodeSelector" not in cpu_pod


def test_writable_paths_are_empty_dirs(manifests):
    pod = manifests["cpu"]["Deployment"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container(manifests["cpu"])["volumeMounts"]:
        assert "emptyDir" in volumes[mount["name"]]


@pytest.mark.parametrize(
    ("reference", "entry"),
    [
        ("app:v3", {"newName": "app", "newTag": "v3"}),
        ("127.0.0.1:5000/team/app", {"newName": "127.0.0.1:5000/team/app"}),
        ("127.0.0.1:5000/team/app:v3", {"newName": "127.0.0.1:5000/team/app", "newTag": "v3"}),
        ("r.example/app@sha256:ab", {"newName": "r.example/app", "digest": "sha256:ab"}),
    ],
)
def test_image_reference_becomes_a_kustomize_entry(reference, entry):
    assert render.image_entry(reference) == {"name": render.PLACEHOLDER} | entry


def test_render_without_a_push_says_what_to_do(tmp_path):
    with pytest.raises(KubeError, match="make push"):
        render.pushed_image(tmp_path / "push.json")


def test_a_local_image_for_kind_renders_without_a_registry(tmp_path):
    """`make k8s IMAGE=<name>:<tag>` after `kind load docker-image`: no pull from anywhere."""
    require_tool("kubectl")
    render.render_all("{{ cookiecutter.project_slug }}:v1", VERSION, tmp_path, ROOT / "k8s")
    deployment = next(
        o
        for o in yaml.safe_load_all((tmp_path / "cpu.yaml").read_text())
        if o["kind"] == "Deployment"
    )
    api = deployment["spec"]["template"]["spec"]["containers"][0]
    assert api["image"] == "{{ cookiecutter.project_slug }}:v1"
    # Unset, Kubernetes pulls a non-`latest` tag only if the node lacks it: kind's copy is used.
    assert api.get("imagePullPolicy", "IfNotPresent") == "IfNotPresent"
