"""Reading your own CSV: messy names survive, and s3:// works against a real S3 API (moto_server)."""

import zipfile

import pytest

from {{ cookiecutter.package_name }}.data.load import DataError, read_csv

from ..conftest import moto_server, use_fake_aws

# Reading a file is the same whatever the bake's task or model.
pytestmark = pytest.mark.same_for_every_model


def test_messy_column_names_and_missing_markers_survive(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "Customer ID,Unit Price (€),Région,label\n1, 3.5 ,Île-de-France,yes\n2,?,Nord,no\n"
    )
    frame = read_csv(str(path))
    assert list(frame.columns) == ["Customer ID", "Unit Price (€)", "Région", "label"]
    assert frame["Unit Price (€)"].isna().sum() == 1
    assert frame["Région"].tolist() == ["Île-de-France", "Nord"]


def test_excel_unicode_text_export_is_read(tmp_path):
    """Excel's "Unicode text": UTF-16 with a byte-order mark, tab-separated."""
    path = tmp_path / "unicode.txt"
    path.write_bytes("Région\tprice\nNord\t12\nSud\t15\n".encode("utf-16"))
    frame = read_csv(str(path))
    assert list(frame.columns) == ["Région", "price"] and frame["price"].tolist() == [12, 15]


def test_a_semicolon_file_keeps_its_dates_and_short_decimals(tmp_path):
    """A German export: "12.03.2019" is a date and "1.5" no number of a decimal-comma file
    (the service refuses it too); pandas' thousands="." read them as 12032019 and 15."""
    path = tmp_path / "export.csv"
    path.write_bytes(
        "Datum;Betrag;Code;Preis\r\n12.03.2019;1.234,5;1.5;2.000\r\n"
        "13.04.2020;0,31;2.25;3.500\r\n".encode("cp1252")
    )
    frame = read_csv(str(path))
    assert frame["Datum"].tolist() == ["12.03.2019", "13.04.2020"]
    assert frame["Betrag"].tolist() == [1234.5, 0.31] and frame["Preis"].tolist() == [2000, 3500]
    assert frame["Code"].tolist() == ["1.5", "2.25"]
    assert frame.attrs["csv"]["decimal"] == "," and frame.attrs["csv"]["thousands"] == "."


def test_a_semicolon_file_with_decimal_points_is_read_with_them(tmp_path):
    """Semicolons, but numbers written "3.14" (an English spreadsheet, or a database export):
    the decimal mark is the one the file's numbers show, not a 314 from a thousands dot."""
    path = tmp_path / "export.csv"
    path.write_text("weight;price;kind\n3.14;1,250.50;a\n2.5;980;b\n10.125;2.000;a\n")
    frame = read_csv(str(path))
    assert frame["weight"].tolist() == [3.14, 2.5, 10.125]
    assert frame.attrs["csv"]["decimal"] == "." and frame.attrs["csv"]["thousands"] == ","
    assert frame["price"].tolist() == [1250.5, 980, 2]


def test_a_workbook_renamed_to_csv_is_named_for_what_it_is(tmp_path):
    path = tmp_path / "prices.csv"
    with zipfile.ZipFile(path, "w") as workbook:  # an .xlsx is a zip of XML files
        workbook.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DataError, match="is an Excel workbook, not a CSV file.*CSV UTF-8"):
        read_csv(str(path))


@pytest.fixture
def s3_endpoint(monkeypatch):
    with moto_server() as endpoint:
        use_fake_aws(monkeypatch, endpoint)
        yield endpoint


def test_read_from_s3(s3_endpoint):
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="learner-data")
    s3.put_object(Bucket="learner-data", Key="in/data.csv", Body=b"a,b\n1,x\n2,y\n")
    assert read_csv("s3://learner-data/in/data.csv").shape == (2, 2)
    with pytest.raises(DataError, match="Could not read 's3://learner-data/absent.csv'.*NoSuchKey"):
        read_csv("s3://learner-data/absent.csv")
