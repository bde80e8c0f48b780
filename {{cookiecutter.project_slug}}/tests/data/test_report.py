from {{ cookiecutter.package_name }}.data.prepare import prepare
from {{ cookiecutter.package_name }}.data.report import write_report
from {{ cookiecutter.package_name }}.data.sample import TARGET


def test_report_covers_missing_outliers_duplicates_and_target(tmp_path, sample_frame):
    prepared = prepare(sample_frame, TARGET)
    path = write_report(sample_frame, prepared, tmp_path)
    text = path.read_text()
    for heading in ("## Rows", "## Missing values", "## Outliers", "## Target"):
        assert heading in text
    assert f"exact duplicates dropped: {prepared.cleaning.duplicates_dropped:,}" in text
    for figure in ("missing_values.png", "target.png"):
        assert (tmp_path / "figures" / figure).stat().st_size > 1000
