"""The promotion gate: the `champion` alias moves only to a version that earns it."""

import threading

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from {{ cookiecutter.package_name }}.model.registry import CHAMPION, champion_lock, promote_if_better


@pytest.fixture
def registry(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = MlflowClient()
    client.create_registered_model("gate")

    def new_version() -> str:
        return str(client.create_model_version("gate", source=str(tmp_path)).version)

    return client, new_version


def champion(client) -> str:
    return str(client.get_model_version_by_alias("gate", CHAMPION).version)


def gate(client, version, score, fingerprint="abc"):
    return promote_if_better(
        client, "gate", version, score, "roc_auc", floor=0.6, fingerprint=fingerprint
    )


def test_first_version_above_the_floor_becomes_champion(registry):
    client, new_version = registry
    assert gate(client, new_version(), 0.70).promoted
    assert champion(client) == "1"


def test_below_the_floor_is_refused_even_without_a_champion(registry):
    client, new_version = registry
    decision = gate(client, new_version(), 0.55)
    assert not decision.promoted and "below the floor" in decision.reason
    with pytest.raises(mlflow.exceptions.MlflowException):
        champion(client)


def test_worse_model_keeps_the_alias_and_better_one_moves_it(registry):
    client, new_version = registry
    gate(client, new_version(), 0.70)
    worse = gate(client, new_version(), 0.65)
    assert not worse.promoted and "does not beat champion v1" in worse.reason
    assert champion(client) == "1"
    better = gate(client, new_version(), 0.80)
    assert better.promoted and better.previous_version == "1"
    assert champion(client) == "3"
    assert client.get_model_version("gate", "2").tags["promotion"] == worse.reason


def test_model_with_other_columns_never_replaces_the_champion(registry):
    client, new_version = registry
    gate(client, new_version(), 0.70, fingerprint="abc")
    other = gate(client, new_version(), 0.99, fingerprint="xyz")
    assert not other.promoted and "schema differs" in other.reason
    assert champion(client) == "1"


def test_a_tie_never_promotes_at_full_precision(registry):
    """0.7000004 was stored as "0.700000", so the same score again "beat" it."""
    client, new_version = registry
    gate(client, new_version(), 0.7000004)
    tie = gate(client, new_version(), 0.7000004)
    assert not tie.promoted and "ties champion v1" in tie.reason
    assert champion(client) == "1"


def test_the_message_shows_the_digits_that_decide(registry):
    client, new_version = registry
    gate(client, new_version(), 0.7000004)
    better = gate(client, new_version(), 0.7000005)
    assert better.promoted and "0.700001 beats champion v1 (0.700000)" in better.reason


def test_a_second_promotion_waits_for_the_first(tmp_path):
    """Compare, alias and export happen under a file lock: a second `make train` waits."""
    entered = threading.Event()

    def second():
        with champion_lock(tmp_path, "gate"):
            entered.set()

    with champion_lock(tmp_path, "gate"):
        other = threading.Thread(target=second)
        other.start()
        assert not entered.wait(timeout=1)
    other.join(timeout=10)
    assert entered.is_set()
