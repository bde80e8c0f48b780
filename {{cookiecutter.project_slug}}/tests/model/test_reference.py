"""The monitoring reference in the bundle: small, complete, and read back typed."""

import json
import os

import numpy as np

from {{ cookiecutter.package_name }}.contract.bundle import REFERENCE_FILE, Bundle
from {{ cookiecutter.package_name }}.contract.drift_rules import Distribution, psi

from ..conftest import copy_of, read_json


def test_training_writes_a_small_reference_for_every_feature(bundle_dir):
    bundle = Bundle.load(bundle_dir)
    reference = bundle.reference
    assert reference is not None and set(reference.features) == set(bundle.schema.names)
    assert os.path.getsize(bundle_dir / REFERENCE_FILE) < 32_000, "bins and shares, never rows"
    for feature in bundle.schema.features:
        distribution = reference.features[feature.name]
        # Dates are watched as the model sees them: days since 1970, a number.
        assert distribution.kind == ("numeric" if feature.kind == "date" else feature.kind)
        assert abs(distribution.expected().sum() - 1) < 1e-9
        if feature.kind == "categorical":
            # Category shares as training saw them: the schema's categories, no others.
            assert set(distribution.frequencies) <= {str(c) for c in feature.categories}
    assert abs(reference.prediction.expected().sum() - 1) < 1e-9


def test_a_bundle_without_a_reference_still_loads(bundle_dir, tmp_path):
    """Bundles exported before monitoring existed serve on, without drift metrics."""
    older = copy_of(bundle_dir, tmp_path)
    (older / REFERENCE_FILE).unlink()
    assert Bundle.load(older).reference is None


def test_the_reference_of_the_training_data_has_no_drift(bundle_dir):
    reference = read_json(bundle_dir, REFERENCE_FILE)
    for content in reference["features"].values():
        distribution = Distribution.model_validate(content)
        expected = distribution.expected()
        assert psi(expected, expected * 10_000) < 1e-9


def test_binning_rules():
    numbers = Distribution(kind="numeric", edges=[0, 10, 20], proportions=[0.5, 0.5])
    assert [numbers.bin_of(v) for v in (0, 9.9, 10, 20, 25, None, "x")] == [0, 0, 1, 1, 1, 2, 2]
    unexpected = [numbers.is_unexpected(v) for v in (-1, 0, 20, 21, None)]
    assert unexpected == [True, False, False, True, False]
    words = Distribution(kind="categorical", frequencies={"a": 0.7, "b": 0.3})
    assert [words.bin_of(v) for v in ("a", "b", "new", None)] == [0, 1, 2, 3]
    assert words.is_unexpected("new") and not words.is_unexpected("a")
    # Live values are compared as the pipeline saw them: normalised like training's.
    normalised = Distribution(kind="categorical", frequencies={"downtown": 1.0}, normalise=True)
    assert normalised.bin_of(" DOWNTOWN ") == 0 and not normalised.is_unexpected("Downtown")
    assert psi(words.expected(), np.array([0, 100, 0, 0])) > 1  # all "b": a large shift
    assert json.loads(words.model_dump_json())["kind"] == "categorical"
