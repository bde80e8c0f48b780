"""The bundle contract: typed, validated once, every error names the file; a model file never
runs code; a new export replaces the old one in one atomic step."""

import json
import os
import shutil

import pytest
import skops.io

from {{ cookiecutter.package_name }}.bundle import (
    METADATA_FILE,
    PIPELINE_FILE,
    Bundle,
    BundleError,
    publish,
)

from .conftest import copy_of, read_json


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
