"""Read a CSV from disk or S3, and fail with a message that says what to fix."""

import codecs
import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer
import pandas as pd

from ..contract.values import SPACE, as_float, digits
from .errors import DataError

# Strings that people type for "no value"; pandas already knows most of them.
EXTRA_MISSING_MARKERS = ["?", "-", "--", "n/a", "N/A", "NA", "null", "None", "#DIV/0!", "#N/A"]
DELIMITERS = ",;\t|"
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# How sure the detection is: a byte-order mark or valid UTF-8 is certain; Western text
# (accented letters among mostly plain ones, every byte a cp1252 character) is likely;
# anything else is charset-normalizer's guess, and only then may CSV_ENCODING override it.
CERTAIN, LIKELY, GUESS = "certain", "likely", "a guess"
# In French, German or Spanish text most letters are plain a-z; in Greek or Russian read
# as cp1252 they are not: then it is not Western text, and charset-normalizer decides.
WESTERN_ACCENTED_SHARE = 0.3
CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"  # bytes cp1252 has no character for (latin-1 has)
# Names that read a file the same way: setting one of them for a file detected as another is fine.
CODEC_FAMILIES = (
    {"utf-8", "utf-8-sig"},
    {"cp1252", "iso8859-1", "iso8859-15"},
    {"utf-16", "utf-16-le", "utf-16-be"},
)
BOMS = {
    codecs.BOM_UTF8: ("utf-8-sig", "a UTF-8 byte-order mark"),
    codecs.BOM_UTF16_LE: ("utf-16", "a UTF-16 byte-order mark"),
    codecs.BOM_UTF16_BE: ("utf-16", "a UTF-16 byte-order mark"),
}


WIDER_ROW_FIX = (
    "Quote the values that contain the delimiter, remove a trailing delimiter, or name the "
    "missing column(s) in the header row."
)


def read_csv(location: str, encoding: str | None = None) -> pd.DataFrame:
    """Read `location`: a local path or `s3://bucket/key.csv`.

    The encoding (detect_encoding) and the delimiter (comma, semicolon, tab, pipe) are
    detected; a semicolon file is read with decimal commas ("3,5") and dot thousands
    ("45.627,67"), as spreadsheets in many countries write it, unless its numbers show
    decimal points and never a decimal comma (decimal_mark). `encoding` (CSV_ENCODING)
    only decides where detection guesses. How the file was read, and how sure the
    encoding is, are kept in `frame.attrs["csv"]` for the report and schema.json.
    """
    raw = _read_bytes(location)
    text, detected = _decode(raw, location, encoding)
    delimiter = _sniff_delimiter(text)
    _check_header(text, delimiter, location)
    semicolon = delimiter == ";"
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            # A semicolon file's cells as text, its numbers read by our grammar below:
            # pandas' thousands="." read "12.03.2019" as 12032019 and "1.5" as 15.
            dtype=str if semicolon else None,
            na_values=EXTRA_MISSING_MARKERS,
            skipinitialspace=True,
        )
    except pd.errors.ParserError as error:
        problem = " ".join(str(error).split())  # pandas' message ends in a newline
        fix = WIDER_ROW_FIX if "fields" in problem else "Save it as UTF-8 CSV with a header."
        raise DataError(f"'{location}' is not a readable CSV ({problem}). {fix}") from error
    if frame.empty:
        raise DataError(f"Data file '{location}' has a header but no rows. Add data rows.")
    decimal = decimal_mark(frame) if semicolon else "."
    if semicolon:
        frame = plain_numbers(frame, decimal)
    frame.attrs["csv"] = {
        "delimiter": DELIMITER_NAMES[delimiter],
        "decimal": decimal,
        "thousands": "." if decimal == "," else ",",
        "encoding": detected.name,
        "encoding_confidence": detected.confidence,
        "encoding_why": detected.why,
    }
    # Text columns as plain Python objects: what scikit-learn's encoders expect.
    text_columns = frame.columns[~frame.dtypes.map(pd.api.types.is_numeric_dtype)]
    return frame.astype({column: object for column in text_columns})


def plain_number(decimal: str) -> re.Pattern:
    """A number as the file writes it, nothing around it: "45.627,67", "-0,31", "2.000"
    (decimal ","); the grammar the service reads a request with (values.digits)."""
    return re.compile(f"{SPACE}*([-+]?)({digits(decimal)}){SPACE}*")


def decimal_mark(frame: pd.DataFrame) -> str:
    """A semicolon file's decimal mark: "," (Excel in most of Europe), unless some cell is
    a number only with a decimal point ("3.14") and none only with a decimal comma."""
    comma, point = plain_number(","), plain_number(".")
    cells = {v for column in frame.columns for v in frame[column].dropna().unique()}
    only_point = any(point.fullmatch(v) and not comma.fullmatch(v) for v in cells)
    only_comma = any(comma.fullmatch(v) and not point.fullmatch(v) for v in cells)
    return "." if only_point and not only_comma else ","


def plain_numbers(frame: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """Columns whose every value is a plain number in the file's way ("45.627,67") as
    numbers; any other column stays text, for the column decisions (data/decisions.py)."""
    pattern = plain_number(decimal)
    for column in frame.columns:
        read = {}
        for value in frame[column].dropna().unique():
            match = pattern.fullmatch(value)
            if match is None:
                break
            read[value] = as_float(match[1], match[2], decimal)
        else:
            if read:
                frame[column] = frame[column].map(read).astype("float64")
    return frame


def _read_bytes(location: str) -> bytes:
    if location.startswith("s3://"):
        raw = _read_s3(location)
    else:
        path = Path(location)
        if path.is_dir():
            raise DataError(
                f"'{location}' is a folder, not a file: name the CSV in it, e.g. "
                f"DATA={location.rstrip('/')}/<file>.csv."
            )
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


@dataclass
class Detected:
    """The encoding a file was read in, how sure that is, and why."""

    encoding: str  # Python's codec
    confidence: str
    why: str

    @property
    def name(self) -> str:
        """As people know it: 'UTF-8 with BOM', 'UTF-16 with BOM', 'UTF-8', 'cp1252'."""
        named = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "iso8859-1": "latin-1"}
        if self.encoding == "utf-16" and "byte-order mark" in self.why:
            return "UTF-16 with BOM"
        return named.get(self.encoding, self.encoding)


def codec_name(encoding: str) -> str:
    """'UTF8', 'latin-1', 'CP1252' -> Python's own name for the codec."""
    return codecs.lookup(encoding).name


def detect_encoding(raw: bytes, location: str) -> Detected:
    """The file's encoding from its bytes: no setting needed for UTF-8 (with or without a
    BOM), UTF-16 (with or without one), cp1252 or latin-1."""
    for bom, (encoding, why) in BOMS.items():
        if raw.startswith(bom):
            return Detected(encoding, CERTAIN, why)
    if raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):  # zip (.xlsx) and OLE2 (.xls)
        raise DataError(
            f"'{location}' is an Excel workbook, not a CSV file. In your spreadsheet, "
            "use File > Save As > 'CSV UTF-8', and train on that file."
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        plain = raw.isascii()
        return Detected("utf-8", CERTAIN, "plain ASCII" if plain else "valid UTF-8")
    western = western_text(raw)
    if western:
        return western
    best = charset_normalizer.from_bytes(raw).best()
    if best is None:
        raise DataError(
            f"'{location}' is not text in any encoding that can be detected. Save it from your "
            "spreadsheet as 'CSV UTF-8', or name its encoding in .env: CSV_ENCODING=..."
        )
    # UTF-16 without a byte-order mark shows in its zero bytes; any other guess stays a guess.
    how_sure = LIKELY if best.encoding.startswith("utf_16") else GUESS
    why = f"charset-normalizer, {best.percent_chaos:.0f}% of the text unlikely in it"
    return Detected(codec_name(best.encoding), how_sure, why)


def western_text(raw: bytes) -> Detected | None:
    """cp1252 (Excel on Windows) or latin-1, when the bytes read as Western text in them."""
    if b"\x00" in raw:  # UTF-16 without a byte-order mark: every other byte is zero
        return None
    encoding = "iso8859-1" if any(byte in raw for byte in CP1252_UNDEFINED) else "cp1252"
    text = raw.decode(encoding)
    letters = [c for c in text if c.isalpha()]
    accented = sum(not c.isascii() for c in letters)
    if not letters or accented / len(letters) > WESTERN_ACCENTED_SHARE:
        return None
    share = accented / len(letters)
    return Detected(encoding, LIKELY, f"not UTF-8; {100 * share:.1f}% of letters accented")


def _decode(raw: bytes, location: str, setting: str | None) -> tuple[str, Detected]:
    """The text, read in the detected encoding; CSV_ENCODING only where detection guesses."""
    detected = detect_encoding(raw, location)
    if setting:
        detected = apply_setting(raw, location, setting, detected)
    return raw.decode(detected.encoding), detected


def apply_setting(raw: bytes, location: str, setting: str, detected: Detected) -> Detected:
    """CSV_ENCODING, checked against the bytes: one left in .env for another file must not
    turn this one's text into 'ï»¿Listing ID'."""
    try:
        wanted = codec_name(setting)
    except LookupError:
        raise DataError(
            f"CSV_ENCODING={setting} is not an encoding Python knows. Remove it from .env "
            "(the encoding is detected) or use a name such as cp1252, latin-1 or utf-16."
        ) from None
    found = codec_name(detected.encoding)
    same_family = any({wanted, found} <= family for family in CODEC_FAMILIES)
    if same_family or raw.isascii():
        return detected
    if detected.confidence == GUESS:
        try:
            raw.decode(wanted)
        except UnicodeDecodeError as error:
            raise DataError(
                f"CSV_ENCODING={setting} cannot be right for '{location}' (byte "
                f"{raw[error.start]:#x} at position {error.start} is not {setting} text). "
                "Remove CSV_ENCODING from .env, or name the file's real encoding."
            ) from None
        return Detected(wanted, "CSV_ENCODING", f"set in CSV_ENCODING (detection guessed {found})")
    sample = raw[:40].decode(wanted, errors="replace").splitlines()[0][:20]
    raise DataError(
        f"CSV_ENCODING={setting} cannot be right for '{location}': it is {found} "
        f"({detected.why}), and read as {setting} its first line starts {sample!r}. "
        "Remove CSV_ENCODING from .env: the encoding is detected."
    )


def _sniff_delimiter(text: str) -> str:
    """csv.Sniffer on the first lines; a comma when it cannot tell (e.g. a single column)."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _check_header(text: str, delimiter: str, location: str) -> None:
    """The header and the first row, as pandas would misread them: refused instead."""
    rows = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    header, first = next(rows, []), next(rows, [])
    _refuse_repeated_names(header, location)
    _refuse_a_wider_first_row(header, first, location)


def _refuse_repeated_names(header: list[str], location: str) -> None:
    """pandas silently renames a repeated header to 'age.1'."""
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


def _refuse_a_wider_first_row(header: list[str], first: list[str], location: str) -> None:
    """pandas takes a first data row's extra fields as an index: every column read shifted."""
    if len(first) > len(header):
        raise DataError(
            f"'{location}': the first data row has {len(first)} fields but the header names "
            f"{len(header)} columns, so every column would be read shifted. {WIDER_ROW_FIX}"
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
