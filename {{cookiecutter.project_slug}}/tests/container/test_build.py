"""`make docker-build` stages the bundle into build/bundle: plain files only, never what a link
inside it points at (the whole build context goes to the Docker engine, and into the image).

The build itself runs against a real Docker engine in the template's tests.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.container.__main__ import BUNDLE, stage_bundle
from {{ cookiecutter.package_name }}.container.limits import ContainerLimits
from {{ cookiecutter.package_name }}.contract.bundle import UntrustedBundle

from ..conftest import copy_of

# The command runs in a fresh folder (no .env): find the package from there too.
SOURCE = str(Path({{ cookiecutter.package_name }}.__file__).resolve().parents[1])


@pytest.fixture(name="project")
def project_fixture(bundle_dir, tmp_path, monkeypatch):
    """A project folder whose models/<name> is a link to a versioned bundle, as `make train` leaves it."""
    versioned = copy_of(bundle_dir, tmp_path / "models" / ".bundles")
    (tmp_path / "models" / "churn-predictor").symlink_to(versioned)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODEL_URI", "models/churn-predictor")
    return versioned


def test_the_top_level_link_is_followed_to_a_copy_of_plain_files(project):
    staged = stage_bundle()
    assert not BUNDLE.is_symlink() and BUNDLE.is_dir()
    assert sorted(p.name for p in BUNDLE.iterdir()) == sorted(p.name for p in project.iterdir())
    assert staged.metadata.name == "churn-predictor"


@pytest.mark.parametrize("kind", ["link to a folder", "link to a file", "named pipe"])
def test_a_bundle_holding_anything_but_plain_files_is_refused(project, tmp_path, kind):
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "secret.txt").write_text("host file, not the model's")
    stray = project / "extra"
    if kind == "link to a folder":
        stray.symlink_to(outside)
    elif kind == "link to a file":
        stray.symlink_to(outside / "secret.txt")
    else:
        os.mkfifo(stray)
    with pytest.raises(UntrustedBundle) as stopped:  # cli.run: one line, exit 2
        stage_bundle()
    assert stopped.value.exit_code == 2
    message = " ".join(str(stopped.value).split())
    assert "extra (" in message and "a bundle is plain files only" in message
    assert "Nothing was copied" in message
    assert not BUNDLE.exists(), "nothing of the host reaches the build context"


def test_every_container_limit_is_in_env_example_with_a_comment():
    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = dict(re.findall(r"^#\s*CONTAINER_([A-Z_]+)=(.*)$", text, re.MULTILINE))
    names = {name.upper() for name in ContainerLimits.model_fields} - {"LOG_MAX_MB"}
    assert set(documented) == names
    assert all("#" in value for value in documented.values())
    assert re.search(r"^# LOG_MAX_MB=", text, re.MULTILINE), "the service's own setting"


@pytest.mark.parametrize(
    ("setting", "value"), [("CONTAINER_MEMORY_MB", "12"), ("CONTAINER_PIDS", "lots")]
)
def test_a_bad_container_limit_is_one_line_and_exit_2(tmp_path, setting, value):
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.container", "run"],
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": SOURCE, setting: value},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {setting}: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_each_model_has_its_own_image_name(tmp_path, monkeypatch):
    from {{ cookiecutter.package_name }}.container.images import (
        PROJECT_IMAGE,
        image_name,
        last_built,
        record_build,
    )

    assert image_name(PROJECT_IMAGE) == PROJECT_IMAGE
    assert image_name("Used Cars/2024") == f"{PROJECT_IMAGE}-used-cars-2024"
    monkeypatch.chdir(tmp_path)
    assert last_built() == f"{PROJECT_IMAGE}:latest"  # nothing built here yet
    other = image_name("used-cars")
    record_build(f"{other}:v3", f"{other}:latest", "used-cars", "3")
    assert last_built() == f"{other}:latest"
