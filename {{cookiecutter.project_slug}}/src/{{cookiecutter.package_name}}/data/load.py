"""Read a CSV from disk or S3, and fail with a message that says what to fix."""

import io
import os
from pathlib import Path

import pandas as pd

# Strings that people type for "no value"; pandas already knows most of them.
EXTRA_MISSING_MARKERS = ["?", "-", "n/a", "N/A", "NA", "null", "None"]


class DataError(ValueError):
    """The data cannot be used as it is. The message names the problem and the fix."""


def read_csv(location: str) -> pd.DataFrame:
    """Read `location`: a local path or `s3://bucket/key.csv`."""
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
    try:
        frame = pd.read_csv(io.BytesIO(raw), na_values=EXTRA_MISSING_MARKERS, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(
            f"'{location}' is not a readable CSV ({error}). Save it as UTF-8 CSV with a header."
        ) from error
    if frame.empty:
        raise DataError(f"Data file '{location}' has a header but no rows. Add data rows.")
    # Text columns as plain Python objects: what scikit-learn's encoders expect.
    text = frame.columns[~frame.dtypes.map(pd.api.types.is_numeric_dtype)]
    return frame.astype({column: object for column in text})


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
