"""The model card: what the model predicts, from what data, how well, and where not to trust it.

Every `make train` writes one into the bundle (`model_card.md`, so it travels with the model
into the image and to the host) and to `reports/model_card.md`. The sections follow the usual
model card (Mitchell et al., "Model Cards for Model Reporting", 2019), kept short enough for
a hiring manager to read. What the data cannot say (who the model is for, what it must not be
used for, how the data was collected) comes from `model_card.yaml` beside the Makefile when
you write one; until then those lines are prompts marked "✎ To fill in".
"""

import platform
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import yaml

from ..config import SettingsProblem
from ..data.report import markdown_table

SECTIONS = (
    "Model details",
    "Intended use",
    "Data",
    "Column decisions",
    "Evaluation",
    "Plots",
    "Known limits",
    "Versions",
)
# What model_card.yaml may say, and the prompt shown until it does.
NOTES = {
    "intended_use": "who should use this model's answers, and for what decision",
    "not_for": "uses it must not be put to (people it was not trained on, decisions it must not make alone)",
    "data_collection": "where the data came from, when, and under what licence or terms",
    "contact": "who to ask about this model",
}
FEW_ROWS_SHARE = 0.05  # a class below 5% of the rows: its metrics rest on few examples
LIBRARIES = ("scikit-learn", "pandas", "numpy", "mlflow", "onnxruntime")


@dataclass
class CardFacts:
    """Everything the card says, gathered by training (nothing here is recomputed)."""

    target: str
    task: str
    model: str
    data_path: str
    rows_in: int
    rows_used: int
    duplicates_dropped: int
    missing_target_dropped: int
    decisions: pd.DataFrame
    train_rows: int
    test_rows: int
    folds: int
    metric: str
    metrics: dict
    class_counts: dict = field(default_factory=dict)
    date_spans: list = field(default_factory=list)  # (column, earliest, latest)
    notes: dict = field(default_factory=dict)
    group_column: str | None = None  # rows of one entity, kept on one side of every split
    group_sides: dict = field(default_factory=dict)  # {"train": groups, "test": groups}
    plots: list = field(default_factory=list)  # file names in the bundle's reports
    name: str = ""
    version: str = ""
    run_id: str = ""
    trained_at: str = ""
    code_version: str = ""
    onnx: str | None = None


def read_notes(path: Path) -> dict:
    """model_card.yaml's answers, or {} where there is none. A broken file is a setting error."""
    if not path.is_file():
        return {}
    try:
        notes = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or " ".join(str(error).split())
        raise SettingsProblem(
            f"{path} is not valid YAML{where} ({problem}). Fix it or remove it."
        ) from None
    if not isinstance(notes, dict):
        raise SettingsProblem(
            f"{path} must be keys with text answers ({', '.join(NOTES)}), not a "
            f"{type(notes).__name__}."
        )
    unknown = sorted(map(str, set(notes) - set(NOTES)))
    if unknown:
        raise SettingsProblem(
            f"{path} has keys the model card does not use: {', '.join(unknown)}. "
            f"Use {', '.join(NOTES)}."
        )
    not_text = sorted(key for key, value in notes.items() if not isinstance(value, str | None))
    if not_text:
        raise SettingsProblem(
            f"{path}: {', '.join(not_text)} must be text (a sentence or two), not a list or "
            "a number. Quote it if it looks like one."
        )
    return {key: value.strip() for key, value in notes.items() if value is not None}


def model_card(facts: CardFacts) -> str:
    sections = {
        "Model details": details(facts),
        "Intended use": intended_use(facts),
        "Data": data(facts),
        "Column decisions": markdown_table(facts.decisions),
        "Evaluation": evaluation(facts),
        "Plots": plots(facts),
        "Known limits": "\n".join(f"- {line}" for line in known_limits(facts)),
        "Versions": versions(facts),
    }
    title = f"# Model card: {facts.name} v{facts.version}"
    body = [f"## {heading}\n\n{sections[heading]}" for heading in SECTIONS]
    return "\n\n".join([title, *body]) + "\n"


def fill_in(key: str, facts: CardFacts) -> str:
    return facts.notes.get(key) or f"✎ To fill in (model_card.yaml, `{key}`): {NOTES[key]}."


def details(facts: CardFacts) -> str:
    predicts = (
        f"which class of `{facts.target}` a record belongs to"
        if facts.task == "classification"
        else f"the value of `{facts.target}`"
    )
    served = f"ONNX ({facts.onnx})" if facts.onnx else "scikit-learn"
    return (
        f"Predicts {predicts} ({facts.task}) with a `{facts.model}` scikit-learn pipeline "
        f"(preprocessing and model in one object), served through {served}.\n"
        f"Trained {facts.trained_at}, MLflow run `{facts.run_id}`, code `{facts.code_version}`."
    )


def intended_use(facts: CardFacts) -> str:
    return (
        f"- Intended use: {fill_in('intended_use', facts)}\n"
        f"- Not for: {fill_in('not_for', facts)}\n"
        f"- Contact: {fill_in('contact', facts)}"
    )


def data(facts: CardFacts) -> str:
    lines = [
        f"- File: `{facts.data_path}`; {facts.rows_in:,} rows in, {facts.duplicates_dropped:,} "
        f"exact duplicates and {facts.missing_target_dropped:,} rows without a target dropped, "
        f"{facts.rows_used:,} used.",
        f"- Split: {facts.train_rows:,} rows to train (with {facts.folds}-fold cross-validation)"
        f", {facts.test_rows:,} held out to test{split_rule(facts)}.",
        f"- Collected: {fill_in('data_collection', facts)}",
    ]
    lines += [f"- `{column}` spans {first} to {last}." for column, first, last in facts.date_spans]
    if facts.class_counts:
        shares = ", ".join(f"`{label}` {count:,}" for label, count in facts.class_counts.items())
        lines.append(f"- Classes (rows used): {shares}.")
    return "\n".join(lines)


def split_rule(facts: CardFacts) -> str:
    if facts.group_column:
        sides = facts.group_sides
        return (
            f"; every `{facts.group_column}` on one side only ({sides.get('train', 0):,} to "
            f"train, {sides.get('test', 0):,} to test), so no entity is scored on rows it trained on"
        )
    return (
        ", each class in the same proportion on both sides"
        if facts.task == "classification"
        else ""
    )


def evaluation(facts: CardFacts) -> str:
    m = facts.metrics
    names = sorted({key[len("test_") :] for key in m if key.startswith("test_")})
    table = pd.DataFrame(
        [
            (
                name + (" (decides promotion)" if name == facts.metric else ""),
                f"{m[f'cv_{name}']:.4f} ± {m.get(f'cv_{name}_std', float('nan')):.4f}",
                f"{m[f'test_{name}']:.4f}",
                f"{m[f'baseline_test_{name}']:.4f}",
            )
            for name in names
        ],
        columns=[
            "metric",
            f"cross-validated (mean ± sd, {facts.folds} folds)",
            "test",
            "baseline (test)",
        ],
    )
    baseline = (
        "always the most frequent class" if facts.task == "classification" else "always the mean"
    )
    return (
        f"{markdown_table(table)}\n\nThe baseline answers {baseline}: a model that does not beat "
        "it learned nothing. The ± is the spread across cross-validation folds: a difference "
        "between two models smaller than it may be luck."
    )


def plots(facts: CardFacts) -> str:
    if not facts.plots:
        return "None."
    where = "In `reports/figures/` and the MLflow run's `plots/` (links work from `reports/`):"
    return "\n".join([where, *(f"- ![{name}](figures/{name})" for name in facts.plots)])


def known_limits(facts: CardFacts) -> list[str]:
    limits = []
    total = sum(facts.class_counts.values())
    for label, count in facts.class_counts.items():
        if total and count / total < FEW_ROWS_SHARE:
            limits.append(
                f"Class `{label}` has only {count:,} rows ({100 * count / total:.1f} percent): its answers "
                "rest on few examples."
            )
    for column, _, last in facts.date_spans:
        limits.append(
            f"`{column}` ends at {last}: records from later dates are outside what the model "
            "saw, and drift is likely (`make monitor` watches for it)."
        )
    left_out = facts.decisions[facts.decisions["kind"].str.endswith("(left out)")]
    if len(left_out):
        limits.append(
            "Left out, so the model knows nothing of them: "
            + ", ".join(f"`{column}`" for column in left_out["column"])
            + "."
        )
    limits.append(f"Not for: {fill_in('not_for', facts)}")
    return limits


def versions(facts: CardFacts) -> str:
    installed = []
    for name in LIBRARIES:
        try:
            installed.append(f"{name} {version(name)}")
        except Exception:  # not installed here (onnxruntime is optional for training)
            continue
    return f"Python {platform.python_version()}; " + ", ".join(installed) + "."
