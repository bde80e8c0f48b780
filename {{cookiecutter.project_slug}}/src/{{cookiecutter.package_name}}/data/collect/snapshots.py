"""Snapshots with provenance: what each run fetched, what it added, and where it came from.

    data/collected/<name>/<UTC timestamp>.csv   every run's rows, as fetched
    data/collected/<name>.csv                   all rows so far, deduplicated (train on this)
    data/collected/<name>.manifest.json         every snapshot: source, time, pages, rows, sha256

Every file is written to a temporary name and renamed: a failed run never leaves half a file,
and the combined file is replaced only by a complete, longer one.
"""

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .errors import CollectError, SchemaChanged
from .source import Source

TERMS_TODO = "FILL IN: the licence or terms of use of this source (where you read them)"


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)  # atomic on one file system: the old file or the new, never half


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def column_kinds(csv_bytes: bytes) -> dict[str, str]:
    """Each column's kind as a reader of the CSV sees it: number, boolean or text.

    Integers and decimals are one kind: a missing value turns one into the other."""
    frame = pd.read_csv(io.BytesIO(csv_bytes))
    kinds = {}
    for column in frame.columns:
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kinds[column] = "boolean"
        elif pd.api.types.is_numeric_dtype(dtype):
            kinds[column] = "number"
        else:
            kinds[column] = "text"
    return kinds


def schema_changes(before: dict[str, str], now: dict[str, str]) -> list[str]:
    changes = [f"added {c}" for c in now if c not in before]
    changes += [f"removed {c}" for c in before if c not in now]
    changes += [f"{c} {before[c]} -> {now[c]}" for c in now if c in before and before[c] != now[c]]
    return changes


def as_text(csv_bytes: bytes) -> pd.DataFrame:
    """Values exactly as written: rows compare as text, never as floats that round."""
    return pd.read_csv(io.BytesIO(csv_bytes), dtype=str, keep_default_na=False)


def new_rows(old: pd.DataFrame, fetched: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Which fetched rows are new: not in the combined file, nor earlier in this batch."""
    keys = keys or list(fetched.columns)

    def key_of(frame: pd.DataFrame) -> pd.Series:
        values = frame.reindex(columns=keys, fill_value="")
        return values.agg("\x1f".join, axis=1) if len(values) else pd.Series(dtype=str)

    fetched_keys = key_of(fetched)
    return ~fetched_keys.isin(set(key_of(old))) & ~fetched_keys.duplicated()


@dataclass
class Collected:
    """One run of one source, fetched in full."""

    source: Source
    frame: pd.DataFrame
    pages: int
    kind: str
    requests: int = 0
    from_cache: int = 0
    seconds: float = 0.0
    more_pages: bool = False  # stopped at MAX_PAGES
    notes: list[str] = field(default_factory=list)


class Store:
    """The files of one collection under data/collected/."""

    def __init__(self, folder: Path, name: str):
        self.folder = folder / name
        self.combined = folder / f"{name}.csv"
        self.manifest_path = folder / f"{name}.manifest.json"

    def manifest(self) -> dict:
        if not self.manifest_path.is_file():
            return {"snapshots": []}
        try:
            return json.loads(self.manifest_path.read_text())
        except json.JSONDecodeError as error:
            raise CollectError(
                f"{self.manifest_path} is not valid JSON ({error}): restore it from git or a copy"
            ) from None

    def snapshot_path(self, fetched_at: datetime) -> Path:
        stamp = fetched_at.strftime("%Y%m%dT%H%M%SZ")
        path, count = self.folder / f"{stamp}.csv", 1
        while path.exists():  # two runs in one second
            count += 1
            path = self.folder / f"{stamp}-{count}.csv"
        return path

    def add_to_combined(self, combined: pd.DataFrame, manifest: dict) -> None:
        combined_bytes = combined.fillna("").to_csv(index=False).encode()
        atomic_write(self.combined, combined_bytes)
        manifest["combined"] = {
            "file": self.combined.name,
            "rows": len(combined),
            "sha256": sha256(combined_bytes),
            "columns": column_kinds(combined_bytes),
        }

    def record(self, run: Collected, accept_schema_change: bool = False) -> dict:
        """Write the snapshot, add its new rows to the combined file, list it in the manifest."""
        source = run.source
        missing = [c for c in source.key_columns if c not in run.frame.columns]
        if missing:
            raise CollectError(
                f"KEY_COLUMNS names {', '.join(missing)}, which {source.url} does not have "
                f"(its columns: {', '.join(map(str, run.frame.columns))})"
            )
        fetched_at = datetime.now(UTC)
        # Integral floats written as integers: a value reads the same whatever else is missing.
        csv_bytes = run.frame.convert_dtypes().to_csv(index=False).encode()
        snapshot = self.snapshot_path(fetched_at)
        atomic_write(snapshot, csv_bytes)
        manifest = self.manifest()
        kinds = column_kinds(csv_bytes)
        changes = schema_changes(manifest.get("columns", kinds), kinds)
        fetched = as_text(csv_bytes)
        merge = not changes or accept_schema_change
        old = as_text(self.combined.read_bytes()) if self.combined.is_file() else fetched.iloc[:0]
        is_new = new_rows(old, fetched, source.key_columns) if merge else None
        entry = {
            "file": snapshot.relative_to(self.combined.parent).as_posix(),
            "source": source.url,
            "kind": run.kind,
            "fetched_at": fetched_at.isoformat(timespec="seconds"),
            "pages": run.pages,
            "more_pages": run.more_pages,
            "rows_fetched": len(fetched),
            "rows_new": int(is_new.sum()) if is_new is not None else 0,
            "duplicates": int((~is_new).sum()) if is_new is not None else 0,
            "sha256": sha256(csv_bytes),
            "columns": kinds,
            "schema_change": changes,
            "merged": merge,
            "terms": source.terms or manifest.get("terms") or TERMS_TODO,
        }
        manifest.update(
            name=source.name,
            source=source.url,
            key_columns=source.key_columns,
            terms=entry["terms"],
        )
        manifest["snapshots"].append(entry)
        if merge:
            manifest["columns"] = kinds  # the source's columns now: what the next run must match
            self.add_to_combined(pd.concat([old, fetched[is_new]], ignore_index=True), manifest)
        atomic_write(self.manifest_path, (json.dumps(manifest, indent=2) + "\n").encode())
        if not merge:
            raise SchemaChanged(
                f"the columns of {source.url} changed since the last run ({'; '.join(changes)}): "
                f"the snapshot is kept in {snapshot}, {self.combined} is unchanged. Check the source; "
                "merge anyway with ACCEPT_SCHEMA_CHANGE=yes, or start a new data set with another NAME"
            )
        return entry
