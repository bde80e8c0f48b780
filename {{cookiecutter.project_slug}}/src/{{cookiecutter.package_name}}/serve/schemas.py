"""Request and response models, built at start-up from the model's schema.json.

Column names in real files have spaces and symbols ("Monthly Charges ($)"), so
each field has a safe Python name and the real column name as its JSON alias.
A column that had gaps in the training data is optional (the pipeline fills
it); one that never had gaps is required. Unknown fields are refused.
"""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from ..bundle import Schema


def encodable(text: str) -> str:
    """JSON may carry a lone surrogate ("\\ud800"): it is no text anyone can store or encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "contains an unpaired surrogate (\\ud800-\\udfff): not valid text"
        ) from None
    return text


# strict: "12" is not a number and 12 is not a category; no silent coercion.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Category = Annotated[
    str, Field(strict=True, min_length=1, max_length=200), AfterValidator(encodable)
]


def record_model(schema: Schema, example: dict) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for index, column in enumerate(schema.features):
        kind = Number if column.kind == "numeric" else Category
        if column.kind == "numeric":
            described = f"Number; seen in training from {column.min:g} to {column.max:g}."
        else:
            shown = ", ".join(str(c) for c in column.categories[:10])
            described = f"Text, one of: {shown}{', ...' if len(column.categories) > 10 else ''} (others allowed)."
        if column.nullable:
            annotation, default = kind | None, None
            described += " Optional: leave it out or null when unknown."
        else:
            annotation, default = kind, ...
        fields[f"field_{index}"] = (
            annotation,
            Field(default, alias=column.name, description=described),
        )
    return create_model(
        "Record",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [example]}),
        **fields,
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
