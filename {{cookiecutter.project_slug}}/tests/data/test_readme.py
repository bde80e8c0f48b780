"""The column decisions example (docs/data.md, linked from the README's data step) is what the
code decides for the exercise's file."""

import re
from pathlib import Path

from {{ cookiecutter.package_name }}.data.load import read_csv
from {{ cookiecutter.package_name }}.data.prepare import prepare
from {{ cookiecutter.package_name }}.data.report import decisions_table, markdown_table

from .corpus import spreadsheet_export

DATA_DOC = Path(__file__).resolve().parents[2] / "docs" / "data.md"


def test_readme_column_decisions_example_is_real(tmp_path):
    example = re.search(
        r"<!-- column-decisions-example[^>]*-->\n(.*?)\n<!-- end", DATA_DOC.read_text(), re.S
    )
    assert example, "docs/data.md lost its column decisions example"
    (tmp_path / "listings.csv").write_bytes(spreadsheet_export())
    prepared = prepare(read_csv(str(tmp_path / "listings.csv")), "Monthly rent")
    assert markdown_table(decisions_table(prepared)) == example.group(1)
