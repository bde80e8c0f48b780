"""An Evidently HTML report beside ours, when `evidently` is installed (the optional extra
`pip install -e '.[monitor]'`; never in the image). Its reference is the training CSV
(DATA_PATH), which only this machine has: the bundle holds bins, not rows."""

import os
from pathlib import Path

import pandas as pd

from ..config import Settings
from .read_log import LogRows


def evidently_report(rows: LogRows, features: list[str], folder: Path) -> Path | None:
    """reports/monitoring-evidently.html, or None without evidently or the training data."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # no usage reports leave this machine
    try:
        from evidently import Report
        from evidently.presets import DataDriftPreset
    except ImportError:
        return None
    data_path = Path(Settings().data_path)
    if not data_path.is_file():
        return None
    reference = pd.read_csv(data_path, usecols=lambda name: name in features)
    current = pd.DataFrame(rows.inputs).reindex(columns=list(reference.columns))
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    path = folder / "monitoring-evidently.html"
    snapshot.save_html(str(path))
    return path
