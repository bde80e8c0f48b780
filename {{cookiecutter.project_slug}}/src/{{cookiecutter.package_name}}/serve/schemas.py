"""Request and response models, built at start-up from the model's schema.json.

Column names in real files have spaces and symbols ("Monthly Charges ($)"), so
each field has a safe Python name and the real column name as its JSON alias.
A column that had gaps in the training data is optional (the pipeline fills
it); one that never had gaps is required. Unknown fields are refused.

The published schema (/openapi.json) says what each field really accepts. With
`reveal_training=False` (API_KEY set) it gives only that contract: no category lists,
training ranges, example row or training dates, which stay behind the key on /model.
"""

import math
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model

from ..bundle import Feature, Schema
from ..values import category_text, date_reader


def encodable(text: str) -> str:
    """JSON may carry a lone surrogate ("\\ud800"): it is no text anyone can store or encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "contains an unpaired surrogate (\\ud800-\\udfff): not valid text"
        ) from None
    return text


# strict: "12" is not a number; no silent coercion. A category may come as a number
# (2 for "2"): it is turned into the text training saw (see as_training_text).
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Text = Annotated[str, Field(strict=True, min_length=1, max_length=200), AfterValidator(encodable)]
# Beyond 2**53 (~9e15) floats skip whole numbers, so a bigger number cannot be matched to
# the one category it equals: such a category must come as text. (A 309-digit integer
# does not even fit a float.) What /openapi.json declares a category may be, as input.
CATEGORY_NUMBER_LIMIT = 1e15
CategoryNumber = Annotated[float, Field(gt=-CATEGORY_NUMBER_LIMIT, lt=CATEGORY_NUMBER_LIMIT)]
CategoryInput = Text | CategoryNumber | bool


def as_training_text(categories: list[str]) -> Callable[[Any], Any]:
    """2, 2.0 and "2" are one category: a number becomes the category it equals in training
    ("2", or "2.0" if the file wrote that), else its plain text; true becomes "True"."""
    by_number = {}
    for category in categories:
        try:
            by_number.setdefault(float(category), category)
        except ValueError:
            continue

    def coerce(value: Any) -> Any:
        if isinstance(value, bool):  # a column of True/False in the file
            return category_text(value)
        if isinstance(value, int | float):
            # Compared before float(): an int too large for a float raises OverflowError.
            # NaN fails both comparisons.
            if not -CATEGORY_NUMBER_LIMIT < value < CATEGORY_NUMBER_LIMIT:
                limit = f"{CATEGORY_NUMBER_LIMIT:g}"
                raise ValueError(
                    f"is not a number between -{limit} and {limit}: send such a category as text"
                )
            return by_number.get(float(value), category_text(value))
        return value

    return coerce


def category_type(column: Feature) -> Any:
    coerce = BeforeValidator(
        as_training_text(column.categories), json_schema_input_type=CategoryInput
    )
    return Annotated[Text, coerce]


def describe_category(column: Feature, reveal_training: bool) -> str:
    accepted = "Text, or a number or true/false (read as its text)"
    if not reveal_training:
        return f"{accepted}: a category (unseen ones allowed)."
    shown = ", ".join(str(c) for c in column.categories[:10])
    more = ", ..." if len(column.categories) > 10 else ""
    return f"{accepted}, one of: {shown}{more} (others allowed; case and spaces ignored)."


def written_like_training(column: Feature) -> str:
    """The latest training date, written in the file's own format (what a client should send)."""
    return datetime.strptime(column.latest, "%Y-%m-%d").strftime(column.date_format)


# What JSON Schema calls `format: date` (2024-03-01) is exactly this strftime format.
ISO_DATE = "%Y-%m-%d"


def date_type(column: Feature) -> Any:
    """A date must read in the training file's format: an unreadable one is a 422, never a guess."""

    # The same remembered reader the ONNX inputs use: each date is parsed once, not twice.
    days = date_reader(column.date_format)

    def readable(text: str) -> str:
        if math.isnan(days(text)):
            raise ValueError(
                f"is not a date written as {column.date_format} "
                f"(e.g. {written_like_training(column)!r})"
            )
        return text

    return Annotated[Text, AfterValidator(readable)]


def describe_column(column: Feature, reveal_training: bool) -> tuple[Any, str, dict]:
    """The field's type, its description and its extra JSON schema keys."""
    if column.kind == "numeric":
        seen = (
            f"; seen in training from {column.min:g} to {column.max:g}" if reveal_training else ""
        )
        return Number, f"Number{seen}.", {}
    if column.kind == "categorical":
        known = {"x-known-values": column.categories[:50]} if reveal_training else {}
        return category_type(column), describe_category(column, reveal_training), known
    example = f", e.g. {written_like_training(column)!r}" if reveal_training else ""
    # Other formats (15/03/2024, Mar 2024) have no JSON Schema name: the description says it.
    declared = {"format": "date"} if column.date_format == ISO_DATE else {}
    extra = {"x-date-format": column.date_format} | declared
    return date_type(column), f"A date written as {column.date_format}{example}.", extra


def record_model(schema: Schema, example: dict, reveal_training: bool = True) -> type[BaseModel]:
    """The request model. reveal_training=False: no categories, ranges or example row in the
    JSON schema (validation is the same)."""
    fields: dict[str, Any] = {}
    for index, column in enumerate(schema.features):
        kind, described, extra = describe_column(column, reveal_training)
        if column.nullable:
            annotation, default = kind | None, None
            described += " Optional: leave it out or null when unknown."
        else:
            annotation, default = kind, ...
        fields[f"field_{index}"] = (
            annotation,
            Field(
                default,
                alias=column.name,
                description=described,
                json_schema_extra=extra or None,
            ),
        )
    examples = {"examples": [example]} if reveal_training else None
    return create_model(
        "Record", __config__=ConfigDict(extra="forbid", json_schema_extra=examples), **fields
    )


def batch_model(record: type[BaseModel], max_batch_size: int) -> type[BaseModel]:
    return create_model(
        "Batch",
        __config__=ConfigDict(extra="forbid"),
        records=(list[record], Field(min_length=1, max_length=max_batch_size)),
    )


def response_models(task: str) -> tuple[type[BaseModel], type[BaseModel]]:
    prediction_type = float if task == "regression" else str | int | float | bool
    probabilities = (dict[str, float] | None, Field(None, description="Class probabilities"))
    one = create_model(
        "Prediction",
        prediction=(prediction_type, ...),
        probabilities=probabilities,
        model_version=(str, ...),
    )
    item = create_model("BatchItem", prediction=(prediction_type, ...), probabilities=probabilities)
    many = create_model("BatchPrediction", predictions=(list[item], ...), model_version=(str, ...))
    return one, many
