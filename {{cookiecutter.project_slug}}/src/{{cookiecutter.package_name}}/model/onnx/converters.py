"""ONNX converters for this project's own pipeline steps, which skl2onnx does not know.

Four steps have no converter in skl2onnx (the quantile clipper, the missing-value
indicator's text form, the category normaliser, the date features), so `register()` adds
small ones. Two lean on contract/onnx_inputs.py: it normalises category text and reads
dates (days since 1970) before the graph, with the same functions (contract/values.py)
that the scikit-learn steps use. Every export is checked against scikit-learn
(model/onnx/export.py), so a wrong converter can never be served.
"""

import numpy as np
from onnx import TensorProto
from skl2onnx import update_registered_converter
from skl2onnx.algebra.onnx_ops import (
    OnnxAdd,
    OnnxCast,
    OnnxConcat,
    OnnxDiv,
    OnnxFloor,
    OnnxGather,
    OnnxGreaterOrEqual,
    OnnxIdentity,
    OnnxIsNaN,
    OnnxLessOrEqual,
    OnnxMax,
    OnnxMin,
    OnnxMul,
    OnnxSub,
)
from skl2onnx.common import tree_ensemble
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.impute import MissingIndicator

from ...contract.transformers import CategoryNormaliser, DateFeatures, QuantileClipper


def _same_width_shape(operator):
    width = operator.raw_operator.n_features_in_
    operator.outputs[0].type = FloatTensorType([operator.inputs[0].get_first_dimension(), width])


def _clipper_converter(scope, operator, container):
    clipper, opset = operator.raw_operator, container.target_opset
    low = clipper.lower_bounds_.astype(np.float32)
    high = clipper.upper_bounds_.astype(np.float32)
    node = OnnxMin(
        OnnxMax(operator.inputs[0], low, op_version=opset),
        high,
        op_version=opset,
        output_names=operator.outputs[:1],
    )
    node.add_to(scope, container)


def _indicator_shape(operator):
    width = len(operator.raw_operator.features_)
    operator.outputs[0].type = FloatTensorType([operator.inputs[0].get_first_dimension(), width])


def _indicator_converter(scope, operator, container):
    indicator, opset = operator.raw_operator, container.target_opset
    columns = np.asarray(indicator.features_, dtype=np.int64)
    missing = OnnxIsNaN(operator.inputs[0], op_version=opset)
    node = OnnxCast(
        OnnxGather(missing, columns, axis=1, op_version=opset),
        to=TensorProto.FLOAT,
        op_version=opset,
        output_names=operator.outputs[:1],
    )
    node.add_to(scope, container)


def _normaliser_shape(operator):
    width = operator.raw_operator.n_features_in_
    operator.outputs[0].type = StringTensorType([operator.inputs[0].get_first_dimension(), width])


def _normaliser_parser(scope, model, inputs, custom_parsers=None):
    """Declare a text output: skl2onnx would otherwise guess that a step outputs floats."""
    operator = scope.declare_local_operator("ColdstartCategoryNormaliser", model)
    operator.inputs = inputs
    output = scope.declare_local_variable("normalised", StringTensorType())
    operator.outputs.append(output)
    return operator.outputs


def _normaliser_converter(scope, operator, container):
    """Identity: onnx_inputs.OnnxFeed has already normalised the text."""
    node = OnnxIdentity(
        operator.inputs[0], op_version=container.target_opset, output_names=operator.outputs[:1]
    )
    node.add_to(scope, container)


def _date_shape(operator):
    width = 4 * operator.raw_operator.n_features_in_
    operator.outputs[0].type = FloatTensorType([operator.inputs[0].get_first_dimension(), width])


def _date_converter(scope, operator, container):
    """transformers.date_parts, operation for operation, in float64 (days since 1970 in)."""
    dates, opset = operator.raw_operator, container.target_opset

    def const(value):
        return np.asarray([value], dtype=np.float64)

    def floor_div(x, divisor):
        return OnnxFloor(OnnxDiv(x, const(divisor), op_version=opset), op_version=opset)

    def add(a, b):
        return OnnxAdd(a, b, op_version=opset)

    def sub(a, b):
        return OnnxSub(a, b, op_version=opset)

    def mul(a, value):
        return OnnxMul(a, const(value), op_version=opset)

    def flag(node):
        return OnnxCast(node, to=TensorProto.DOUBLE, op_version=opset)

    days = OnnxCast(operator.inputs[0], to=TensorProto.DOUBLE, op_version=opset)
    z = add(days, const(719468.0))
    era = floor_div(z, 146097.0)
    doe = sub(z, mul(era, 146097.0))
    yoe = floor_div(
        sub(
            add(sub(doe, floor_div(doe, 1460.0)), floor_div(doe, 36524.0)), floor_div(doe, 146096.0)
        ),
        365.0,
    )
    doy = sub(doe, sub(add(mul(yoe, 365.0), floor_div(yoe, 4.0)), floor_div(yoe, 100.0)))
    mp = floor_div(add(mul(doy, 5.0), const(2.0)), 153.0)
    late = flag(OnnxGreaterOrEqual(mp, const(10.0), op_version=opset))
    month = sub(add(mp, const(3.0)), mul(late, 12.0))
    early = flag(OnnxLessOrEqual(month, const(2.0), op_version=opset))
    year = add(add(yoe, mul(era, 400.0)), early)
    weekday = sub(add(days, const(3.0)), mul(floor_div(add(days, const(3.0)), 7.0), 7.0))
    since = sub(days, np.asarray(dates.reference_days, dtype=np.float64))
    parts = OnnxConcat(year, month, weekday, since, axis=1, op_version=opset)
    node = OnnxCast(
        parts, to=TensorProto.FLOAT, op_version=opset, output_names=operator.outputs[:1]
    )
    node.add_to(scope, container)


def _leaf_flags_as_integers() -> None:
    """Work around skl2onnx 1.20 with HistGradientBoosting: it passes a Python `False` as the
    missing-value flag of leaf nodes, which protobuf now refuses ("Expected an int, got a
    boolean"). Casting that one argument to int is all it needs; every export is still
    checked against scikit-learn below, so a wrong conversion can never be served."""
    original = tree_ensemble.add_node
    if getattr(original, "casts_flags", False):
        return

    def add_node(*args, nodes_missing_value_tracks_true=0, **kwargs):
        flag = int(nodes_missing_value_tracks_true)
        return original(*args, nodes_missing_value_tracks_true=flag, **kwargs)

    setattr(add_node, "casts_flags", True)  # noqa: B010  (a mark on a function: no type has it)
    tree_ensemble.add_node = add_node


def register() -> None:
    """Teach skl2onnx this project's steps (idempotent: a second call changes nothing)."""
    _leaf_flags_as_integers()
    update_registered_converter(
        QuantileClipper, "ColdstartQuantileClipper", _same_width_shape, _clipper_converter
    )
    update_registered_converter(
        MissingIndicator, "ColdstartMissingIndicator", _indicator_shape, _indicator_converter
    )
    update_registered_converter(
        CategoryNormaliser,
        "ColdstartCategoryNormaliser",
        _normaliser_shape,
        _normaliser_converter,
        parser=_normaliser_parser,
    )
    update_registered_converter(DateFeatures, "ColdstartDateFeatures", _date_shape, _date_converter)
