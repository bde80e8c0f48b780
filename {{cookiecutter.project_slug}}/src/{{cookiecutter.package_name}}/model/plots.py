"""Evaluation plots, written as PNG files and logged to MLflow with the run."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw to files; no screen needed (servers, CI, containers)
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PredictionErrorDisplay,
    RocCurveDisplay,
)


def save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def evaluation_plots(
    pipeline, X: pd.DataFrame, y: pd.Series, task: str, folder: Path, seed: int
) -> list[Path]:
    paths = []
    if task == "classification":
        figure, axis = plt.subplots(figsize=(5, 4))
        ConfusionMatrixDisplay.from_estimator(pipeline, X, y, ax=axis, colorbar=False)
        axis.set_title("Confusion matrix (test split)")
        paths.append(save(figure, folder / "confusion_matrix.png"))
        if len(pipeline.classes_) == 2:
            figure, axis = plt.subplots(figsize=(5, 4))
            RocCurveDisplay.from_estimator(pipeline, X, y, ax=axis)
            axis.set_title("ROC curve (test split)")
            paths.append(save(figure, folder / "roc_curve.png"))
    else:
        figure, axes = plt.subplots(1, 2, figsize=(10, 4))
        PredictionErrorDisplay.from_estimator(
            pipeline, X, y, kind="actual_vs_predicted", ax=axes[0]
        )
        PredictionErrorDisplay.from_estimator(
            pipeline, X, y, kind="residual_vs_predicted", ax=axes[1]
        )
        figure.suptitle("Predictions on the test split")
        paths.append(save(figure, folder / "residuals.png"))
    if X.shape[1] <= MAX_IMPORTANCE_COLUMNS:
        paths.append(feature_importance_plot(pipeline, X, y, folder, seed))
    return paths


MAX_BARS = 30
# Permutation importance predicts once per column: past this many it would take minutes.
MAX_IMPORTANCE_COLUMNS = 300


def feature_importance_plot(
    pipeline, X: pd.DataFrame, y: pd.Series, folder: Path, seed: int
) -> Path:
    """Permutation importance on the raw columns: how much the score drops when one is shuffled."""
    sample = X.sample(n=min(len(X), 500), random_state=seed)
    repeats = 3 if X.shape[1] <= 100 else 1  # wide tables: one shuffle per column
    result = permutation_importance(
        pipeline, sample, y.loc[sample.index], n_repeats=repeats, random_state=seed, n_jobs=1
    )
    importances = pd.Series(result.importances_mean, index=X.columns).sort_values()
    importances = importances.tail(MAX_BARS)  # the most important ones; a chart stays readable
    figure, axis = plt.subplots(figsize=(6, 0.3 * len(importances) + 1.5))
    importances.plot.barh(ax=axis)
    axis.set_xlabel("drop in score when the column is shuffled")
    axis.set_title("Feature importance (permutation, test split)")
    return save(figure, folder / "feature_importance.png")
