"""monitoring/: the Prometheus scrape config, its alert rules and the Grafana dashboard parse,
and every metric they query is one the service really exports."""

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import {{ cookiecutter.package_name }}.serve.app  # noqa: F401  (registers every metric)

MONITORING = Path(__file__).resolve().parents[1] / "monitoring"
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}


def exported_names() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, [""])}
    return names


def metric_names(expression: str) -> set[str]:
    words = set(re.findall(r"\b([a-z_]+_(?:total|bucket|psi|rows|count|sum))\b", expression))
    return {w for w in words if not w.startswith(("histogram_", "rate"))}


def test_prometheus_scrapes_the_service_and_loads_the_alerts():
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    job = config["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"]
    assert config["rule_files"] == ["alerts.yml"]
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"][0]["rules"]
    queried = set().union(*(metric_names(rule["expr"]) for rule in rules))
    assert "model_drift_psi" in queried and queried <= exported_names()


def test_grafana_dashboard_queries_only_exported_metrics():
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    queried = set().union(*(metric_names(e) for e in expressions))
    assert {"model_drift_psi", "model_drift_unexpected_values_total"} <= queried
    assert queried <= exported_names(), queried - exported_names()
    assert len(dashboard["uid"]) <= 40 and dashboard["panels"]
