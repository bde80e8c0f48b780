import os
import subprocess
import sys
from pathlib import Path

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.data.prepare import prepare
from {{ cookiecutter.package_name }}.data.report import write_report
from {{ cookiecutter.package_name }}.data.sample import TARGET


def test_report_covers_missing_outliers_duplicates_and_target(tmp_path, sample_frame):
    prepared = prepare(sample_frame, TARGET)
    path = write_report(sample_frame, prepared, tmp_path)
    text = path.read_text()
    for heading in (
        "## Rows",
        "## Column decisions",
        "## Missing values",
        "## Outliers",
        "## Target",
    ):
        assert heading in text
    assert f"exact duplicates dropped: {prepared.cleaning.duplicates_dropped:,}" in text
    for figure in ("missing_values.png", "target.png"):
        assert (tmp_path / "figures" / figure).stat().st_size > 1000


def test_data_report_exits_2_on_bad_data(tmp_path):
    (tmp_path / "dup.csv").write_text("a,b,a,label\n1,2,3,x\n")
    source = Path({{ cookiecutter.package_name }}.__file__).resolve().parents[1]
    env = os.environ | {
        "PYTHONPATH": str(source),
        "DATA_PATH": str(tmp_path / "dup.csv"),
        "TARGET": "label",
        "REPORTS_DIR": str(tmp_path / "reports"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.data.report"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "has the same column name more than once: 'a' at columns 1, 3" in result.stderr


def test_report_shows_the_encoding_guess_the_target_merges_and_the_groups(tmp_path):
    from {{ cookiecutter.package_name }}.data.load import read_csv

    from .corpus import french_export, storm_tracks

    (tmp_path / "export.csv").write_bytes(french_export())
    raw = read_csv(str(tmp_path / "export.csv"))
    text = write_report(raw, prepare(raw, "Accepté"), tmp_path / "french").read_text()
    assert (
        "Read as cp1252, semicolon-separated, decimal point ','; encoding likely (not UTF-8; 2.9% of letters accented)."
        in text
    )
    assert "- `Accepté`: 'Non' / 'Non ' / 'non' -> 'Non'; 'OUI' / 'Oui' / 'oui' -> 'Oui'" in text
    assert "- none: no column groups rows" in text
    (tmp_path / "storms.csv").write_text(storm_tracks().to_csv(index=False))
    raw = read_csv(str(tmp_path / "storms.csv"))
    text = write_report(raw, prepare(raw, "status"), tmp_path / "storms").read_text()
    assert "- `name`: 60 groups, each kept on one side of every split" in text
