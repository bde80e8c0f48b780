"""Settings with a map: every setting of every settings class is in .env.example, explained."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from pydantic import AliasChoices, ValidationError
from pydantic_settings import BaseSettings

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }} import settings_doc

PACKAGE = "{{ cookiecutter.package_name }}"
ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def settings_classes() -> list[type[BaseSettings]]:
    found = {}
    for module in pkgutil.walk_packages({{ cookiecutter.package_name }}.__path__, f"{PACKAGE}."):
        if module.name.endswith("__main__"):
            continue
        for _, value in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(value, BaseSettings) and value.__module__.startswith(PACKAGE):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def env_names(kind: type[BaseSettings]) -> set[str]:
    """The variables a class reads: its prefix and field name, or the field's alias."""
    names = set()
    for field_name, field in kind.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            alias = alias.choices[0]
        prefix = kind.model_config.get("env_prefix", "")
        names.add(alias.upper() if isinstance(alias, str) else f"{prefix}{field_name}".upper())
    return names


def documented() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text().splitlines()
    return {m.group(1): m.group(3) for m in map(settings_doc.SETTING.match, lines) if m}


def test_every_setting_of_every_settings_class_is_in_env_example_with_a_comment():
    classes = settings_classes()
    assert len(classes) >= 5, classes  # training, serving, monitoring, collecting, containers
    written = documented()
    missing = {
        f"{kind.__name__}: {name}"
        for kind in classes
        for name in env_names(kind)
        if name not in written
    }
    assert not missing, f"add to .env.example, each with a comment: {sorted(missing)}"


def test_env_example_names_no_setting_that_nothing_reads():
    read = set().union(*(env_names(kind) for kind in settings_classes()))
    # AWS_REGION: boto3's own variable, named beside DEPLOY_AWS_REGION as its fallback.
    stale = set(documented()) - read - {"AWS_REGION"}
    assert not stale, f"no settings class reads {sorted(stale)}"


def test_one_thing_has_one_name_whichever_part_reads_it():
    """Two parts reading the same setting (a field of the same name and default) read it under
    one variable: REPORTS_DIR for training and the monitor, DEPLOY_APP for deploys and pods."""
    names: dict[tuple[str, str], set[str]] = {}
    for kind in settings_classes():
        for field_name, field in kind.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                alias = alias.choices[0]
            prefix = kind.model_config.get("env_prefix", "")
            env = alias.upper() if isinstance(alias, str) else f"{prefix}{field_name}".upper()
            names.setdefault((field_name, repr(field.default)), set()).add(env)
    assert {key: found for key, found in names.items() if len(found) > 1} == {}


def test_an_old_name_is_refused_not_ignored(tmp_path, monkeypatch):
    from {{ cookiecutter.package_name }}.config import SettingsProblem, load
    from {{ cookiecutter.package_name }}.monitor.settings import MonitorSettings

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MONITOR_REPORTS_DIR=elsewhere\n")
    try:
        load(MonitorSettings)
    except SettingsProblem as problem:
        message = str(problem)
    else:
        raise AssertionError("MONITOR_REPORTS_DIR was ignored without a word")
    assert message.startswith("MONITOR_REPORTS_DIR (in .env) is no longer read")
    assert "Rename MONITOR_REPORTS_DIR= to REPORTS_DIR=" in message
    (tmp_path / ".env").write_text("REPORTS_DIR=elsewhere\n")
    assert load(MonitorSettings).reports_dir == Path("elsewhere")


SETTINGS_PAGE = ENV_EXAMPLE.parent / "docs" / "settings.md"


def test_the_settings_page_is_what_env_example_says():
    written = settings_doc.page(ENV_EXAMPLE.read_text())
    assert SETTINGS_PAGE.read_text() == written, "docs/settings.md is stale: run make settings-doc"


def test_the_settings_page_has_a_row_for_every_setting_a_class_reads_and_no_other():
    rows = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", SETTINGS_PAGE.read_text(), re.M))
    read = set().union(*(env_names(kind) for kind in settings_classes()))
    assert sorted(read - rows) == [], "settings a class reads that the page leaves out"
    # AWS_REGION (aws bakes): boto3's own variable, documented beside DEPLOY_AWS_REGION.
    assert sorted(rows - read - {"AWS_REGION"}) == [], "rows for settings nothing reads"
    assert rows == set(documented())


def test_make_settings_doc_writes_a_table_row_per_setting_under_its_part(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / ".env.example").write_text(
        "# --- Serving (src/app/serve/settings.py) ---\n"
        "# PORT=8000          # where it listens | not a pipe\n"
        "# Leave a setting out to get its default.\n"
    )
    page = settings_doc.write(tmp_path).read_text()
    assert "## Serving\n\nRead by src/app/serve/settings.py.\n" in page
    assert "| `PORT` | `8000` | where it listens \\| not a pipe |" in page
    assert page.rstrip().endswith("Leave a setting out to get its default.")


def test_every_settings_class_is_frozen_so_no_setting_is_changed_as_a_signal():
    thawed = [kind.__name__ for kind in settings_classes() if not kind.model_config.get("frozen")]
    assert thawed == [], "settings are read once and never changed: add frozen=True"
    from {{ cookiecutter.package_name }}.config import Settings

    with pytest.raises(ValidationError, match="frozen"):
        Settings().seed = 1  # type: ignore[misc]
