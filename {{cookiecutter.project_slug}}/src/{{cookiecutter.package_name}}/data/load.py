"""Read a CSV from disk or S3, and fail with a message that says what to fix."""

import codecs
import csv
import io
import os
from pathlib import Path

import pandas as pd

# Strings that people type for "no value"; pandas already knows most of them.
EXTRA_MISSING_MARKERS = ["?", "-", "--", "n/a", "N/A", "NA", "null", "None", "#DIV/0!", "#N/A"]
DELIMITERS = ",;\t|"
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


class DataError(ValueError):
    """The data cannot be used as it is. The message names the problem and the fix."""


def read_csv(location: str, encoding: str | None = None) -> pd.DataFrame:
    """Read `location`: a local path or `s3://bucket/key.csv`.

    The delimiter (comma, semicolon, tab, pipe) is detected; a semicolon file is read
    with decimal commas ("3,5"), as spreadsheets in many countries write it. How the
    file was read is kept in `frame.attrs["csv"]` for the report.
    """
    raw = _read_bytes(location)
    text, encoding_used = _decode(raw, location, encoding)
    delimiter = _sniff_delimiter(text)
    _check_header(text, delimiter, location)
    decimal_comma = delimiter == ";"
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            decimal="," if decimal_comma else ".",
            thousands="." if decimal_comma else None,
            na_values=EXTRA_MISSING_MARKERS,
            skipinitialspace=True,
        )
    except pd.errors.ParserError as error:
        raise DataError(
            f"'{location}' is not a readable CSV ({error}). Save it as UTF-8 CSV with a header."
        ) from error
    if frame.empty:
        raise DataError(f"Data file '{location}' has a header but no rows. Add data rows.")
    frame.attrs["csv"] = {
        "delimiter": DELIMITER_NAMES[delimiter],
        "decimal": "," if decimal_comma else ".",
        "encoding": encoding_used,
    }
    # Text columns as plain Python objects: what scikit-learn's encoders expect.
    text_columns = frame.columns[~frame.dtypes.map(pd.api.types.is_numeric_dtype)]
    return frame.astype({column: object for column in text_columns})


def _read_bytes(location: str) -> bytes:
    if location.startswith("s3://"):
        raw = _read_s3(location)
    else:
        path = Path(location)
        if not path.is_file():
            hint = (
                " Run `make data` to write the sample data set." if "data/raw" in location else ""
            )
            raise DataError(f"Data file '{location}' not found. Check the path.{hint}")
        raw = path.read_bytes()
    if not raw.strip():
        raise DataError(
            f"Data file '{location}' is empty. Export the data again, with a header row."
        )
    return raw


def _decode(raw: bytes, location: str, encoding: str | None) -> tuple[str, str]:
    """UTF-8 (with or without the byte-order mark spreadsheets add), or the one you name."""
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as error:
            raise DataError(
                f"'{location}' cannot be read as {encoding} ({error}). Check CSV_ENCODING."
            ) from error
    if raw.startswith(codecs.BOM_UTF8):
        return raw.decode("utf-8-sig"), "UTF-8 with BOM"
    # Excel's "Unicode text" export: UTF-16 with its byte-order mark, read as such.
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "UTF-16 with BOM"
    if raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):  # zip (.xlsx) and OLE2 (.xls)
        raise DataError(
            f"'{location}' is an Excel workbook, not a CSV file. In your spreadsheet, "
            "use File > Save As > 'CSV UTF-8', and train on that file."
        )
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as error:
        raise DataError(
            f"'{location}' is not UTF-8 text (byte {raw[error.start]:#x} at position {error.start}). "
            "Save it as 'CSV UTF-8' from your spreadsheet, or name its encoding: "
            "CSV_ENCODING=cp1252 (Windows/Excel) or CSV_ENCODING=latin-1 in .env."
        ) from error


def _sniff_delimiter(text: str) -> str:
    """csv.Sniffer on the first lines; a comma when it cannot tell (e.g. a single column)."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _check_header(text: str, delimiter: str, location: str) -> None:
    """pandas silently renames a repeated header to 'age.1'; we refuse it instead."""
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True), [])
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(header, start=1):
        if name.strip():  # blank headers (trailing commas) are read as 'Unnamed: n'
            positions.setdefault(name.strip(), []).append(position)
    repeated = {name: where for name, where in positions.items() if len(where) > 1}
    if repeated:
        listed = "; ".join(
            f"{name!r} at columns {', '.join(map(str, where))}" for name, where in repeated.items()
        )
        raise DataError(
            f"'{location}' has the same column name more than once: {listed}. "
            "Rename or remove the repeated column(s) in the file's header row."
        )


def _read_s3(location: str) -> bytes:
    """Fetch from S3 with boto3; honours AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL."""
    import boto3  # only needed for s3:// data
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = location.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise DataError(f"'{location}' is not an S3 object address. Use s3://bucket/path/file.csv.")
    session = boto3.Session(profile_name=os.environ.get("AWS_PROFILE") or None)
    try:
        return session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise DataError(
            f"Could not read '{location}' from S3 ({code}). Check the bucket, key and your "
            "AWS credentials (AWS_PROFILE, or aws configure)."
        ) from error
    except BotoCoreError as error:
        raise DataError(f"Could not reach S3 for '{location}': {error}") from error
