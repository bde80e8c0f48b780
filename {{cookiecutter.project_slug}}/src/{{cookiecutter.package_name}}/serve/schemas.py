"""Request and response models, built at start-up from the model's schema.json.

Column names in real files have spaces and symbols ("Monthly Charges ($)"), so
each field has a safe Python name and the real column name as its JSON alias.
A column that had gaps in the training data is optional (the pipeline fills
it); one that never had gaps is required. A number may come as a JSON number or as text
written as the training file wrote it ("225", "0,31", "$1,499.00", "8 GB"), read by the
grammar training used (values.number_grammar) and declared as its `pattern`. The columns
training left out (IDs, free text, the target) are accepted and ignored; unknown fields
are refused.

The published schema (/openapi.json) says what each field really accepts. With
`reveal_training=False` (API_KEY set) it gives only that contract: no category lists,
training ranges, example row or training dates, which stay behind the key on /model.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import GenericAlias
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
)
from pydantic_core import core_schema

from ..contract.bundle import Feature, Schema
from ..contract.values import (
    MISSING_MARKERS,
    category_text,
    date_reader,
    is_finite,
    number_grammar,
    number_reader,
    remembered,
)


def encodable(text: str) -> str:
    """JSON may carry a lone surrogate ("\\ud800"): it is no text anyone can store or encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "contains an unpaired surrogate (\\ud800-\\udfff): not valid text"
        ) from None
    return text


# A number's text is read only by the training file's grammar (WrittenNumber), never by
# Python's lax coercion. A category may come as a number (2 for "2"): it is turned into
# the text training saw (see as_training_text).
Text = Annotated[str, Field(strict=True, min_length=1, max_length=200), AfterValidator(encodable)]
# Beyond 2**53 (~9e15) floats skip whole numbers, so a bigger number cannot be matched to
# the one category it equals: such a category must come as text. (A 309-digit integer
# does not even fit a float.) What /openapi.json declares a category may be, as input.
CATEGORY_NUMBER_LIMIT = 1e15
CategoryNumber = Annotated[float, Field(gt=-CATEGORY_NUMBER_LIMIT, lt=CATEGORY_NUMBER_LIMIT)]
CategoryInput = Text | CategoryNumber | bool
# A blank cell as a CSV reader gives it: missing where the column had gaps.
Blank = Literal[""]


def missing_as_none(value: Any) -> Any:
    """In a column that had gaps, "N/A", "--", a blank "" and the other missing markers are
    missing, as training read them (a CSV reader sends a blank cell as "")."""
    if isinstance(value, str) and value.strip().lower() in MISSING_MARKERS:
        return None
    return value


def as_training_text(categories: list[str], nullable: bool = False) -> Callable[[Any], Any]:
    """2, 2.0 and "2" are one category: a number becomes the category it equals in training
    ("2", or "2.0" if the file wrote that), else its plain text; true becomes "True". In a
    column that had gaps, "N/A", "--", "" and the other missing markers are missing, as in
    training (missing_as_none)."""
    by_number: dict[float, str] = {}
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
        return missing_as_none(value) if nullable else value

    return coerce


def category_type(column: Feature) -> Any:
    if not column.nullable:
        coerce = as_training_text(column.categories)
        return Annotated[Text, BeforeValidator(coerce, json_schema_input_type=CategoryInput)]
    coerce = as_training_text(column.categories, nullable=True)
    accepted = CategoryInput | Blank | None
    # null first: it is matched in Rust, without calling `coerce` (only text may be "N/A").
    return None | Annotated[Text | None, BeforeValidator(coerce, json_schema_input_type=accepted)]


def describe_category(column: Feature, reveal_training: bool) -> str:
    accepted = "Text, or a number or true/false (read as its text)"
    if not reveal_training:
        return f"{accepted}: a category (unseen ones allowed)."
    shown = ", ".join(str(c) for c in column.categories[:10])
    more = ", ..." if len(column.categories) > 10 else ""
    return f"{accepted}, one of: {shown}{more} (others allowed; case and spaces ignored)."


def written_like_training(column: Feature) -> str:
    """The latest training date, written in the file's own format (what a client should send)."""
    if column.latest is None or column.date_format is None:
        raise ValueError(f"schema.json: date column {column.name!r} has no latest or date_format")
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


def written_examples(column: Feature, decimal: str) -> str:
    """How the training file may write this column's numbers, for the docs and the errors."""
    if column.unit:
        others = sorted(set(column.unit_factors) - {column.unit.lower()})  # '"' for inches too
        shown = f"'8 {column.unit}', '8{column.unit.lower()}'" + (
            f" or another unit ({', '.join(others[:6])})" if others else ""
        )
        return f"{shown}; a number alone is in {column.unit}"
    if decimal == ",":
        return "'1.234,5', '1 234,5', '0,31', '12 €', '45%'"
    return "'1,234.5', '$1,499.00', '45%'"


@dataclass(frozen=True)
class WrittenNumber:
    """A JSON number, or text written as the training file wrote numbers ("27.602,23",
    "8 GB"): one union checked in Rust, so a JSON number costs what it did before; only
    text reaches Python, read by the reader training used (values.number_reader).

    Missing markers ("N/A") and infinite numbers are missing, as training made them: in a
    column that had gaps; in one that had none they are refused, as null is."""

    column: Feature
    decimal: str

    def message(self) -> str:
        unit = f" (in {self.column.unit})" if self.column.unit else ""
        message = (
            f"is not a number{unit}: send a JSON number, or text as the training file wrote "
            f"it, such as {written_examples(self.column, self.decimal)}"
        )
        required = " (a value is required: null and 'N/A' are refused)"
        return message if self.column.nullable else message + required

    def __get_pydantic_core_schema__(self, source, handler) -> core_schema.CoreSchema:
        required = not self.column.nullable
        factors = tuple(sorted(self.column.unit_factors.items()))
        grammar = number_grammar(self.decimal, tuple(dict(factors)), not required, not required)
        # Strings repeat ("8 GB"): each is read once, within the bounded cache.
        read = remembered(number_reader(self.decimal, factors))

        def number(text: str) -> float | None:
            value = read(text)
            if is_finite(value):
                return value
            if value is not None and math.isnan(value):  # the pattern passed, the reader not
                raise ValueError("not a number this file writes")
            if required:  # a missing marker, or past a float's range
                raise ValueError("missing")
            return None  # missing, as training made it

        text = core_schema.str_schema(strict=True, max_length=200, pattern=f"^(?:{grammar})$")
        choices: list[core_schema.CoreSchema | tuple[core_schema.CoreSchema, str]] = [
            core_schema.float_schema(strict=True, allow_inf_nan=False),
            core_schema.no_info_after_validator_function(number, text),
        ]
        choices += [] if required else [core_schema.none_schema()]
        return core_schema.union_schema(
            choices,
            mode="left_to_right",
            custom_error_type="number_type",
            custom_error_message=self.message(),
        )


def number_type(column: Feature, decimal: str) -> Any:
    return Annotated[float | None if column.nullable else float, WrittenNumber(column, decimal)]


def describe_number(column: Feature, decimal: str, reveal_training: bool) -> str:
    unit = f" (unit: {column.unit})" if column.unit else ""  # "A number in in" would puzzle
    if not reveal_training:  # the contract only, in words: the pattern says it exactly
        mark = "a decimal comma" if decimal == "," else "a decimal point"
        units = ", with a unit" if column.unit else ""
        return f"A number{unit}, or text as the training file wrote it ({mark}{units})."
    seen = f"; seen in training from {column.min:g} to {column.max:g}"
    return (
        f"A number{unit}, or text as the training file wrote it "
        f"({written_examples(column, decimal)}){seen}."
    )


def describe_column(
    column: Feature, reveal_training: bool, decimal: str = "."
) -> tuple[Any, str, dict]:
    """The field's type (None allowed where the column had gaps), its description and its
    extra JSON schema keys."""
    if column.kind == "numeric":
        described = describe_number(column, decimal, reveal_training)
        return number_type(column, decimal), described, {}
    if column.kind == "categorical":
        known = {"x-known-values": column.categories[:50]} if reveal_training else {}
        return category_type(column), describe_category(column, reveal_training), known
    example = f", e.g. {written_like_training(column)!r}" if reveal_training else ""
    # Other formats (15/03/2024, Mar 2024) have no JSON Schema name: the description says it.
    declared = {"format": "date"} if column.date_format == ISO_DATE else {}
    extra = {"x-date-format": column.date_format} | declared
    kind = date_type(column)
    if column.nullable:  # "N/A" or a blank "" is missing, as null is
        kind = Annotated[
            kind | None,
            BeforeValidator(missing_as_none, json_schema_input_type=Text | Blank | None),
        ]
    return kind, f"A date written as {column.date_format}{example}.", extra


# pandas' name for a column with a blank header (Excel's empty trailing column); a client
# reading the file with csv.DictReader sends it under its header as written: "".
BLANK_HEADER = re.compile(r"Unnamed: [0-9]+")


def ignored_fields(schema: Schema, reveal_training: bool) -> dict[str, Any]:
    """The columns training left out (and the target): accepted, whatever they hold, and
    ignored, so a row sent as the file writes it is answered. Listed in /docs as such."""
    left_out = {schema.target: "the target: what the service predicts"} | schema.excluded
    fields = {}
    for index, (name, why) in enumerate(left_out.items()):
        reason = f" ({why})" if reveal_training else ""
        described = f"Accepted and ignored: training left this column out{reason}."
        names = AliasChoices(name, "") if BLANK_HEADER.fullmatch(name) else None
        fields[f"ignored_{index}"] = (
            Any,
            Field(
                None,
                alias=name,
                validation_alias=names,
                description=described,
                json_schema_extra={"x-ignored": True},
            ),
        )
    return fields


def record_model(schema: Schema, example: dict, reveal_training: bool = True) -> type[BaseModel]:
    """The request model. reveal_training=False: no categories, ranges or example row in the
    JSON schema (validation is the same)."""
    fields: dict[str, Any] = {}
    decimal = schema.number_format.get("decimal", ".")
    for index, column in enumerate(schema.features):
        annotation, described, extra = describe_column(column, reveal_training, decimal)
        if column.nullable:
            default = None
            described += " Optional: leave it out or null when unknown."
        else:
            default = ...
        fields[f"field_{index}"] = (
            annotation,
            Field(
                default,
                alias=column.name,
                description=described,
                json_schema_extra=extra or None,
            ),
        )
    # After the features: a validated record's first values are its row (serve/app.py).
    fields |= ignored_fields(schema, reveal_training)
    config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [example]} if reveal_training else None
    )
    return create_model("Record", __config__=config, **fields)


def batch_model(record: type[BaseModel], max_batch_size: int) -> type[BaseModel]:
    # list[record], spelled so: mypy takes no variable (a class made at run time) for a type.
    records: Any = GenericAlias(list, (record,))
    return create_model(
        "Batch",
        __config__=ConfigDict(extra="forbid"),
        records=(records, Field(min_length=1, max_length=max_batch_size)),
    )


def response_models(task: str) -> tuple[type[BaseModel], type[BaseModel]]:
    # Kept in variables, types are values (a class, a UnionType) create_model's types refuse.
    prediction_type: Any = float if task == "regression" else str | int | float | bool
    probabilities: tuple[Any, Any] = (
        dict[str, float] | None,
        Field(None, description="Class probabilities"),
    )
    one = create_model(
        "Prediction",
        prediction=(prediction_type, ...),
        probabilities=probabilities,
        model_version=(str, ...),
    )
    item = create_model("BatchItem", prediction=(prediction_type, ...), probabilities=probabilities)
    many = create_model("BatchPrediction", predictions=(list[item], ...), model_version=(str, ...))
    return one, many
