"""The bundle contract: typed, validated once, every error names the file; a model file never
runs code; a new export replaces the old one in one atomic step."""

import contextlib
import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import skops.io
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.contract.bundle import (
    ALLOWED_TYPES,
    DATA_TYPES,
    METADATA_FILE,
    MOVED_MODULES,
    ONNX_FILE,
    PIPELINE_FILE,
    Bundle,
    BundleError,
    UntrustedBundle,
    checked_trusted_types,
    is_what_it_claims,
    publish,
)
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

from ..conftest import copy_of, crafted_model_file, read_json, require

TRUSTED_LIBRARIES = ("numpy.", "scipy.", "sklearn.")


def test_the_crafted_file_is_a_real_attack(malicious):
    """Proof the test below could fail: a loader that trusts builtins.eval runs the payload."""
    path, marker = malicious
    skops.io.load(path, trusted=["builtins.eval"])
    assert marker.read_text() == "the model file ran code"


def test_a_model_file_that_runs_code_is_refused_and_nothing_runs(bundle_dir, tmp_path, malicious):
    path, marker = malicious
    bundle = copy_of(bundle_dir, tmp_path)
    shutil.copy(path, bundle / PIPELINE_FILE)
    with pytest.raises(BundleError, match=r"builtins\.eval.*Refused"):
        Bundle.load(bundle).load_pipeline()
    assert not marker.exists()


def test_a_tampered_allow_list_is_refused_too(bundle_dir, tmp_path, malicious):
    path, marker = malicious
    bundle = copy_of(bundle_dir, tmp_path)
    shutil.copy(path, bundle / PIPELINE_FILE)
    metadata = read_json(bundle, METADATA_FILE)
    metadata["trusted_types"] += ["builtins.eval", "os.system", "numpy.load"]
    (bundle / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(BundleError, match=r"never trust: builtins\.eval, os\.system, numpy\.load"):
        Bundle.load(bundle).load_pipeline()
    assert not marker.exists()


def popen_alias() -> str:
    """A name under numpy, scipy or scikit-learn that *is* subprocess.Popen (the audit's route)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy.distutils is deprecated, and still importable
        with contextlib.suppress(ImportError):
            importlib.import_module("numpy.distutils.fcompiler.gnu")
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith(TRUSTED_LIBRARIES) and getattr(module, "Popen", None) is (
            subprocess.Popen
        ):
            return f"{module_name}.Popen"
    require(False, "no alias of subprocess.Popen under numpy, scipy or scikit-learn to test")
    return ""


def gadget(kind: str, folder) -> tuple:
    """(crafted pipeline.skops, the type name it needs, the file it harms, what that file held)."""
    victim = folder / "victim.txt"
    victim.write_text("precious data")
    if kind == "popen":
        name = popen_alias()
        arguments: tuple = (["sh", "-c", f"id > {victim}"],)
    else:  # numpy.memmap(victim, "uint8", "w+", 0, (4,)) truncates the file to four zero bytes
        name, arguments = "numpy.memmap", (str(victim), "uint8", "w+", 0, (4,))
    module, _, function = name.rpartition(".")
    path = crafted_model_file(folder / "gadget.skops", module, function, arguments)
    return path, name, victim


@pytest.mark.parametrize("kind", ["popen", "memmap"])
def test_the_gadgets_are_real_attacks_on_a_prefix_rule(tmp_path, kind):
    """Proof the tests below could fail: trusting these names (each a class under a trusted
    library, so the old "any class under numpy." rule let them in) harms the file."""
    path, name, victim = gadget(kind, tmp_path)
    module, _, attribute = name.rpartition(".")
    assert inspect.isclass(getattr(importlib.import_module(module), attribute))
    loaded = skops.io.load(path, trusted=[name])
    if kind == "popen":
        loaded.wait()
    del loaded
    assert victim.read_bytes() != b"precious data"


@pytest.mark.parametrize("kind", ["popen", "memmap"])
def test_a_gadget_with_a_tampered_metadata_list_is_refused_and_nothing_runs(
    bundle_dir, tmp_path, kind
):
    path, name, victim = gadget(kind, tmp_path)
    bundle = copy_of(bundle_dir, tmp_path)
    shutil.copy(path, bundle / PIPELINE_FILE)
    metadata = read_json(bundle, METADATA_FILE)
    metadata["trusted_types"].append(name)  # the one added line of the audit
    (bundle / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(
        UntrustedBundle, match=rf"{METADATA_FILE} lists types we never trust: {name}"
    ):
        Bundle.load(bundle).load_pipeline()
    metadata["trusted_types"].remove(name)  # the file alone, with an honest list
    (bundle / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(UntrustedBundle, match=rf"{name}\. Refused"):
        Bundle.load(bundle).load_pipeline()
    assert victim.read_text() == "precious data"


def classes_under_the_trusted_libraries() -> set[str]:
    """Every class reachable as `<module>.<attribute>` in the numpy, scipy, scikit-learn and
    package modules loaded now (after training and serving imported what they use)."""
    popen_alias()
    found = set()
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith((*TRUSTED_LIBRARIES, "{{ cookiecutter.package_name }}.")):
            continue
        for attribute, value in list(vars(module).items()):
            if inspect.isclass(value):
                found.add(f"{module_name}.{attribute}")
    return found


def test_no_class_off_the_list_is_trusted_whatever_library_it_comes_from(bundle_dir):
    Bundle.load(bundle_dir).load_pipeline()  # import what a real pipeline imports
    reachable = classes_under_the_trusted_libraries() - ALLOWED_TYPES
    assert len(reachable) > 1000  # the sweep really covered the libraries
    # The audit's gadgets, and functions that write files, by name whether or not listed above.
    swept = reachable | {"numpy.memmap", popen_alias(), "numpy.load", "scipy.io.savemat"}
    passed = []
    for name in sorted(swept):
        try:
            checked_trusted_types([name], "the sweep")
        except UntrustedBundle:
            continue
        passed.append(name)
    assert passed == []
    assert not any(is_what_it_claims(name) for name in reachable)


def test_every_allowed_type_is_a_pipeline_step_or_data_under_its_own_name():
    from sklearn.base import BaseEstimator

    for name in sorted(ALLOWED_TYPES):
        module, _, attribute = name.rpartition(".")
        found = getattr(importlib.import_module(module), attribute)
        assert f"{found.__module__}.{found.__qualname__}" == name, name
        assert name in DATA_TYPES or issubclass(found, BaseEstimator), name
        assert is_what_it_claims(name), name


def test_the_allow_list_is_exact_and_holds_only_library_classes(bundle_dir):
    loaded = Bundle.load(bundle_dir)
    trusted = loaded.metadata.trusted_types
    assert trusted and not any(name.startswith("builtins.") for name in trusted)
    assert set(skops.io.get_untrusted_types(file=bundle_dir / PIPELINE_FILE)) == set(trusted)
    assert loaded.load_pipeline() is not None


def test_the_bundle_is_typed(bundle_dir):
    loaded = Bundle.load(bundle_dir)
    assert loaded.schema.task in ("classification", "regression")
    assert loaded.schema.names == [
        f["name"] for f in read_json(bundle_dir, "schema.json")["features"]
    ]
    assert loaded.metadata.version == str(read_json(bundle_dir, METADATA_FILE)["version"])
    assert set(loaded.example[0]) >= set(loaded.schema.names)


def test_unknown_schema_keys_are_kept(bundle_dir, tmp_path):
    """Data preparation may record more per column than serving reads: still a valid bundle."""
    bundle = copy_of(bundle_dir, tmp_path)
    schema = read_json(bundle, "schema.json")
    schema["features"][0]["decision"] = {"why": "a note from data preparation"}
    (bundle / "schema.json").write_text(json.dumps(schema))
    assert Bundle.load(bundle).schema.features[0].model_extra["decision"]["why"]


BROKEN = {
    "schema.json": ("{not json", "not valid JSON"),
    "metadata.json": ('{"name": "x"}', "version"),
    "input_example.json": ("[]", "at least one record"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_file_is_named_with_its_problem(bundle_dir, tmp_path, name):
    bundle = copy_of(bundle_dir, tmp_path)
    content, problem = BROKEN[name]
    (bundle / name).write_text(content)
    with pytest.raises(BundleError, match=problem) as raised:
        Bundle.load(bundle)
    assert str(bundle / name) in str(raised.value)


def test_a_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(BundleError, match="make train"):
        Bundle.load(tmp_path / "nowhere")


def test_publish_swaps_the_whole_bundle_in_one_rename(bundle_dir, tmp_path):
    staged = copy_of(bundle_dir, tmp_path)
    link = tmp_path / "models" / "demo"
    publish(staged, link)
    first = link.resolve()
    metadata = read_json(staged, METADATA_FILE)
    metadata["version"] = "2"
    (staged / METADATA_FILE).write_text(json.dumps(metadata))
    publish(staged, link)
    assert link.is_symlink() and link.resolve() != first
    assert Bundle.load(link).metadata.version == "2"
    assert first.is_dir()  # the previous export stays beside it


def test_a_crash_during_publish_leaves_the_old_bundle_whole(bundle_dir, tmp_path, monkeypatch):
    staged = copy_of(bundle_dir, tmp_path)
    link = tmp_path / "models" / "demo"
    publish(staged, link)
    before = Bundle.load(link).metadata.version

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        publish(staged, link)
    assert Bundle.load(link).metadata.version == before
    assert Bundle.load(link).load_pipeline() is not None


def as_trained_before_the_move(bundle) -> list[str]:
    """Rewrite a bundle as `make train` wrote it when the pipeline's steps lived at the
    package's top (`<package>.transformers`): every module name the files record.
    Returns the old names now in pipeline.skops."""
    old_of = {new: old for old, new in MOVED_MODULES.items()}
    path = bundle / PIPELINE_FILE
    with zipfile.ZipFile(path) as original:
        members = {name: original.read(name) for name in original.namelist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as rewritten:
        for name, data in members.items():
            if name.endswith(".json"):
                text = data.decode()
                for new, old in old_of.items():
                    text = text.replace(f'"{new}"', f'"{old}"')
                data = text.encode()
            rewritten.writestr(name, data)
    metadata = read_json(bundle, METADATA_FILE)
    metadata["trusted_types"] = [
        name.replace(f"{name.rpartition('.')[0]}.", f"{old_of[name.rpartition('.')[0]]}.")
        if name.rpartition(".")[0] in old_of
        else name
        for name in metadata["trusted_types"]
    ]
    (bundle / METADATA_FILE).write_text(json.dumps(metadata))
    return [
        name
        for name in skops.io.get_untrusted_types(file=path)
        if name.rpartition(".")[0] in MOVED_MODULES
    ]


def test_a_bundle_trained_before_the_contract_move_still_loads_and_serves(bundle_dir, tmp_path):
    """A bundle records its steps' module paths; one trained before contract/transformers.py moved into
    contract/ loads as the same classes and serves the answers it always gave."""
    bundle = copy_of(bundle_dir, tmp_path)
    old_names = as_trained_before_the_move(bundle)
    assert old_names, "the rewritten file should name the old module paths (else nothing is tested)"

    pipeline = Bundle.load(bundle).load_pipeline()
    expected = Bundle.load(bundle_dir).load_pipeline()
    frame = pd.DataFrame(Bundle.load(bundle_dir).example)
    assert {type(step).__module__ for _, step in pipeline.steps} == {
        type(step).__module__ for _, step in expected.steps
    }
    np.testing.assert_array_equal(pipeline.predict(frame), expected.predict(frame))

    (bundle / ONNX_FILE).unlink(missing_ok=True)  # serve from that very pipeline file
    settings = ServeSettings(_env_file=None, model_uri=str(bundle))
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        answer = client.post("/predict", json=Bundle.load(bundle).example[0])
        assert answer.status_code == 200, answer.text


def test_an_old_module_name_widens_nothing(bundle_dir, tmp_path, malicious):
    """The old names map onto the same allow-list: a crafted file under an old name is refused."""
    path, marker = malicious
    bundle = copy_of(bundle_dir, tmp_path)
    shutil.copy(path, bundle / PIPELINE_FILE)
    metadata = read_json(bundle, METADATA_FILE)
    old_module = next(iter(MOVED_MODULES))
    metadata["trusted_types"] = [f"{old_module}.os.system"]
    (bundle / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(BundleError, match="never trust"):
        Bundle.load(bundle).load_pipeline()
    assert not marker.exists()
