"""`make docker-run`'s API key file: private on the way, readable by the container's user
alone, and mounted read-only (the run itself is tested against a real engine by the template)."""

import os
import stat

import pytest

from {{ cookiecutter.package_name }}.container.key_file import (
    CONTAINER_KEY_FILE,
    KEY_FILE,
    image_user,
    key_options,
)

KEY = "docker-run-key-1f0c7e9a2b"


@pytest.fixture(autouse=True)
def in_a_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_the_key_is_a_file_mounted_read_only_and_nowhere_else():
    options = key_options(KEY, "10001:10001")
    assert KEY_FILE.read_text() == KEY
    assert stat.S_IMODE(KEY_FILE.parent.stat().st_mode) == 0o700
    (mount,) = options["mounts"]
    assert mount["Target"] == CONTAINER_KEY_FILE and mount["ReadOnly"] and mount["Type"] == "bind"
    assert mount["Source"] == str(KEY_FILE.resolve())
    assert "environment" not in options and KEY not in repr(options)
    assert [p.name for p in KEY_FILE.parent.iterdir()] == [KEY_FILE.name], "no temporary left"


def test_only_the_containers_user_may_read_it():
    options = key_options(KEY, "10001:10001")
    info = KEY_FILE.stat()
    if os.geteuid() == 0:  # handed to the image's user
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (10001, 10001, 0o400)
        assert "group_add" not in options
    else:  # yours, and the container's user joins your group
        assert stat.S_IMODE(info.st_mode) == 0o640
        assert options["group_add"] == [str(os.getgid())]


def test_a_new_key_replaces_the_old_one():
    key_options(KEY, "10001:10001")
    key_options("another-key-8d2e4b6a90", "10001:10001")
    assert KEY_FILE.read_text() == "another-key-8d2e4b6a90"


@pytest.mark.parametrize(
    ("user", "expected"),
    [("10001:10001", (10001, 10001)), ("10001", (10001, 10001)), ("app", None)],
)
def test_the_images_user(user, expected):
    assert image_user(user) == expected
