#!/usr/bin/python3
"""Writes the seed corpus for onnx_fuzz into tests/fuzz/onnx/corpus/ and its dictionary
tests/fuzz/onnx/onnx.dict (run once; the files are committed).

Needs Debian's python3-onnx (onnx.helper). Valid seeds are small models in the shapes PyTorch's
exporter writes (Conv/BatchNormalization/Relu/Gemm, a Reshape fed by a Shape-Gather-Concat
subgraph, Concat, Slice, pooling, Pad, Clip, activations, MatMul/Softmax, reductions), each passing
onnx.checker; a few malformed ones cover what the importer must reject (a cycle, a missing
initializer, an unknown op, absurd dims, a short raw_data, an unsupported opset) and regressions
the fuzzer found (regress_*). Every file stays under 4 KiB. The dictionary holds op type names,
bare and as a NodeProto op_type field, attribute names as AttributeProto name fields, and
multi-byte protobuf fields the importer reads.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
F = TensorProto.FLOAT
I64 = TensorProto.INT64
OPSET = 17
rng = np.random.default_rng(7)


def w(name, *shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.5, name)


def i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def model(nodes, inputs, outputs, inits=(), opset=OPSET, check=True):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="plumb-fuzz")
    m.ir_version = 8
    if check:
        onnx.checker.check_model(m, full_check=True)
    return m.SerializeToString()


def raw_tensor(name, elem, dims, raw):
    """A TensorProto whose raw_data need not fit its dims (make_tensor checks that)."""
    t = TensorProto(name=name, data_type=elem, dims=dims)
    t.raw_data = raw
    return t


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


N = helper.make_node
seeds = {}

# Conv -> BatchNormalization -> Relu -> MaxPool -> Flatten -> Gemm, with a symbolic batch.
seeds["conv_bn_relu_gemm.onnx"] = model(
    [N("Conv", ["x", "cw", "cb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
     N("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], epsilon=1e-5),
     N("Relu", ["n"], ["r"]),
     N("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
     N("Flatten", ["p"], ["f"], axis=1),
     N("Gemm", ["f", "gw", "gb"], ["y"], transB=1)],
    [vi("x", F, ["batch", 2, 4, 4])], [vi("y", F, ["batch", 3])],
    [w("cw", 4, 2, 3, 3), w("cb", 4), w("s", 4), w("b", 4), w("m", 4),
     numpy_helper.from_array(np.abs(rng.standard_normal(4)).astype(np.float32) + 0.5, "v"),
     w("gw", 3, 16), w("gb", 3)])

# Reshape fed by the Shape -> Gather -> Unsqueeze -> Concat subgraph PyTorch writes for x.view(n, -1).
seeds["reshape_shape_subgraph.onnx"] = model(
    [N("Shape", ["x"], ["s"]),
     N("Constant", [], ["zero"], value=helper.make_tensor("zero", I64, [], [0])),
     N("Gather", ["s", "zero"], ["n"], axis=0),
     N("Unsqueeze", ["n", "axes"], ["n1"]),
     N("Concat", ["n1", "minus1"], ["shape"], axis=0),
     N("Reshape", ["x", "shape"], ["y"])],
    [vi("x", F, ["batch", 3, 2, 2])], [vi("y", F, ["batch", 12])],
    [i64("axes", [0]), i64("minus1", [-1])])

# Channel shuffle as in shufflenet: Reshape -> Transpose -> Reshape, then Split-like Slices and Concat.
seeds["channel_shuffle_slice_concat.onnx"] = model(
    [N("Reshape", ["x", "s5"], ["a"]),
     N("Transpose", ["a"], ["t"], perm=[0, 2, 1, 3, 4]),
     N("Reshape", ["t", "s4"], ["b"]),
     N("Slice", ["b", "st0", "en0", "ax", "stp"], ["lo"]),
     N("Slice", ["b", "st1", "en1", "ax", "stp"], ["hi"]),
     N("Relu", ["hi"], ["hr"]),
     N("Concat", ["lo", "hr"], ["y"], axis=1)],
    [vi("x", F, [1, 4, 2, 2])], [vi("y", F, [1, 4, 2, 2])],
    [i64("s5", [1, 2, 2, 2, 2]), i64("s4", [1, 4, 2, 2]), i64("st0", [0]), i64("en0", [2]),
     i64("st1", [2]), i64("en1", [9223372036854775807]), i64("ax", [1]), i64("stp", [1])])

# Strided, negative-step Slice on two axes.
seeds["slice_steps.onnx"] = model(
    [N("Slice", ["x", "st", "en", "ax", "stp"], ["y"])],
    [vi("x", F, [3, 5, 4])], [vi("y", F, [3, 3, 2])],
    [i64("st", [-1, 0]), i64("en", [-6, 4]), i64("ax", [1, 2]), i64("stp", [-2, 2])])

# Pad -> AveragePool (count_include_pad, ceil_mode) -> GlobalAveragePool, as inception/densenet.
seeds["pad_avgpool.onnx"] = model(
    [N("Pad", ["x", "pads", "pv"], ["p"], mode="constant"),
     N("AveragePool", ["p"], ["a"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
       ceil_mode=1, count_include_pad=1),
     N("GlobalAveragePool", ["a"], ["y"])],
    [vi("x", F, [2, 3, 5, 5])], [vi("y", F, [2, 3, 1, 1])],
    [i64("pads", [0, 0, 1, 1, 0, 0, 1, 1]), numpy_helper.from_array(np.array(0, np.float32), "pv")])

# Depthwise Conv + Clip(0, 6) with Constant bounds + residual Add, as mobilenet_v2.
seeds["depthwise_clip_add.onnx"] = model(
    [N("Conv", ["x", "dw"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=4),
     N("Constant", [], ["lo"], value=helper.make_tensor("lo", F, [], [0.0])),
     N("Constant", [], ["hi"], value=helper.make_tensor("hi", F, [], [6.0])),
     N("Clip", ["c", "lo", "hi"], ["k"]),
     N("Add", ["k", "x"], ["y"])],
    [vi("x", F, [1, 4, 3, 3])], [vi("y", F, [1, 4, 3, 3])], [w("dw", 4, 1, 3, 3)])

# HardSwish, HardSigmoid, Sigmoid * x (SiLU), as mobilenet_v3 / efficientnet.
seeds["activations.onnx"] = model(
    [N("HardSwish", ["x"], ["a"]),
     N("HardSigmoid", ["a"], ["b"], alpha=1.0 / 6),
     N("Sigmoid", ["b"], ["s"]),
     N("Mul", ["s", "x"], ["m"]),
     N("Tanh", ["m"], ["t"]),
     N("Sub", ["t", "x"], ["y"])],
    [vi("x", F, [2, 6])], [vi("y", F, [2, 6])])

# MatMul + Add + Softmax + ReduceMean, with broadcasting and Div by a scalar.
seeds["matmul_softmax_reduce.onnx"] = model(
    [N("MatMul", ["x", "mw"], ["m"]),
     N("Add", ["m", "mb"], ["a"]),
     N("Div", ["a", "d"], ["q"]),
     N("Softmax", ["q"], ["s"], axis=-1),
     N("ReduceMean", ["s"], ["y"], axes=[1], keepdims=0)],
    [vi("x", F, [2, 3, 4])], [vi("y", F, [2, 5])],
    [w("mw", 4, 5), w("mb", 5), numpy_helper.from_array(np.array(2.0, np.float32), "d")])

# Cast, Gather on an int64 input, Unsqueeze/Squeeze, Expand, Identity.
seeds["gather_cast_expand.onnx"] = model(
    [N("Gather", ["emb", "idx"], ["g"], axis=0),
     N("Unsqueeze", ["g", "ax0"], ["u"]),
     N("Squeeze", ["u", "ax0"], ["q"]),
     N("Expand", ["q", "shp"], ["e"]),
     N("Cast", ["e"], ["c"], to=TensorProto.DOUBLE),
     N("Identity", ["c"], ["y"])],
    [vi("idx", I64, [3])], [vi("y", TensorProto.DOUBLE, [2, 3, 4])],
    [w("emb", 5, 4), i64("ax0", [0]), i64("shp", [2, 3, 4])])

# Typed-field initializers (float_data, int64_data) rather than raw_data, ConstantOfShape, Mul.
seeds["typed_fields.onnx"] = model(
    [N("ConstantOfShape", ["shp"], ["z"], value=helper.make_tensor("v", F, [1], [0.5])),
     N("Mul", ["x", "z"], ["y"])],
    [vi("x", F, [2, 3])], [vi("y", F, [2, 3])],
    [helper.make_tensor("shp", I64, [2], [2, 3])])

# Index family: GatherElements, GatherND, ScatterElements, ScatterND, OneHot, Trilu, EyeLike, Tile.
seeds["index_ops.onnx"] = model(
    [N("GatherElements", ["x", "ge"], ["a"], axis=1),
     N("GatherND", ["x", "gn"], ["b"]),
     N("ScatterElements", ["x", "ge", "a"], ["c"], axis=1),
     N("ScatterND", ["c", "sn", "su"], ["d"]),
     N("Trilu", ["d"], ["e"], upper=0),
     N("EyeLike", ["e"], ["f"], k=1),
     N("Add", ["e", "f"], ["g"]),
     N("OneHot", ["oi", "depth", "ov"], ["h"], axis=-1),
     N("Tile", ["g", "reps"], ["y"])],
    [vi("x", F, [3, 3]), vi("oi", I64, [3])], [vi("y", F, [6, 3]), vi("h", F, [3, 4])],
    [i64("ge", [[0, 2, 1], [1, 1, 0], [2, 0, 2]]), i64("gn", [[0, 1], [2, 2]]), i64("sn", [[1, 1], [0, 2]]),
     numpy_helper.from_array(np.array([5.0, -5.0], np.float32), "su"), i64("depth", [4]),
     numpy_helper.from_array(np.array([0.0, 1.0], np.float32), "ov"), i64("reps", [2, 1])])

# DepthToSpace / SpaceToDepth, CumSum, Compress, Split, Range, Size.
seeds["rearrange_ops.onnx"] = model(
    [N("DepthToSpace", ["x"], ["a"], blocksize=2, mode="CRD"),
     N("SpaceToDepth", ["a"], ["b"], blocksize=2),
     N("CumSum", ["b", "ax1"], ["c"], exclusive=1, reverse=1),
     N("Split", ["c", "sp"], ["s0", "s1"], axis=1),
     N("Compress", ["s1", "cond"], ["k"], axis=1),
     N("Size", ["k"], ["n"]),
     N("Range", ["zero", "n", "one"], ["y"])],
    [vi("x", F, [1, 8, 2, 2])], [vi("y", I64, ["r"]), vi("s0", F, [1, 3, 2, 2])],
    [i64("ax1", 1), i64("sp", [3, 5]), numpy_helper.from_array(np.array([1, 0, 1, 1, 0], bool), "cond"),
     i64("zero", 0), i64("one", 1)])

# Resize: nearest with scales, linear with sizes (half_pixel), as upsampling layers export.
seeds["resize.onnx"] = model(
    [N("Resize", ["x", "", "scales"], ["a"], mode="nearest", coordinate_transformation_mode="asymmetric",
       nearest_mode="floor"),
     N("Resize", ["a", "", "", "sizes"], ["y"], mode="linear", coordinate_transformation_mode="half_pixel")],
    [vi("x", F, [1, 2, 3, 3])], [vi("y", F, [1, 2, 5, 4])],
    [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"), i64("sizes", [1, 2, 5, 4])])

# Normalizations: LayerNormalization, InstanceNormalization, LRN, MeanVarianceNormalization.
seeds["norms.onnx"] = model(
    [N("LayerNormalization", ["x", "g", "b"], ["a"], axis=-1, epsilon=1e-5),
     N("InstanceNormalization", ["a", "s", "t"], ["c"], epsilon=1e-5),
     N("LRN", ["c"], ["d"], size=3, alpha=1e-4, beta=0.75, bias=1.0),
     N("MeanVarianceNormalization", ["d"], ["y"], axes=[0, 2, 3])],
    [vi("x", F, [2, 3, 2, 4])], [vi("y", F, [2, 3, 2, 4])],
    [w("g", 4), w("b", 4), w("s", 3), w("t", 3)])

# Comparisons and logic feeding Where; Pow, Exp, Log, Sqrt, Reciprocal; variadic Sum/Mean/Max/Min.
seeds["logic_math.onnx"] = model(
    [N("Greater", ["x", "z"], ["gt"]),
     N("Equal", ["x", "z"], ["eq"]),
     N("Or", ["gt", "eq"], ["ge"]),
     N("Not", ["ge"], ["lt"]),
     N("Abs", ["x"], ["ax"]),
     N("Add", ["ax", "one"], ["ap"]),
     N("Log", ["ap"], ["lg"]),
     N("Sqrt", ["ap"], ["sq"]),
     N("Pow", ["sq", "two"], ["pw"]),
     N("Reciprocal", ["pw"], ["rc"]),
     N("Exp", ["rc"], ["ex"]),
     N("Where", ["lt", "lg", "ex"], ["wh"]),
     N("Sum", ["wh", "x", "rc"], ["sm"]),
     N("Mean", ["sm", "x"], ["mn"]),
     N("Max", ["mn", "z"], ["mx"]),
     N("Min", ["mx", "sm"], ["y"])],
    [vi("x", F, [2, 5])], [vi("y", F, [2, 5])],
    [numpy_helper.from_array(np.array(0, np.float32), "z"), numpy_helper.from_array(np.array(1, np.float32), "one"),
     numpy_helper.from_array(np.array(2, np.float32), "two")])

# Activations with attributes: LeakyRelu, Elu, Selu, Celu, PRelu, Softplus, Softsign, ThresholdedRelu,
# Shrink, LogSoftmax, Hardmax.
seeds["activations_attrs.onnx"] = model(
    [N("LeakyRelu", ["x"], ["a"], alpha=0.1), N("Elu", ["a"], ["b"], alpha=0.5),
     N("Selu", ["b"], ["c"]), N("Celu", ["c"], ["d"], alpha=2.0), N("PRelu", ["d", "slope"], ["e"]),
     N("Softplus", ["e"], ["f"]), N("Softsign", ["f"], ["g"]), N("ThresholdedRelu", ["g"], ["h"], alpha=0.2),
     N("Shrink", ["h"], ["i"], lambd=0.1, bias=0.05), N("LogSoftmax", ["i"], ["j"], axis=1),
     N("Hardmax", ["j"], ["y"], axis=1)],
    [vi("x", F, [2, 3])], [vi("y", F, [2, 3])], [w("slope", 3)])

# Reductions with axes as an input (opset 13 ReduceSum) and attributes; ArgMax, ReduceLogSumExp.
seeds["reductions.onnx"] = model(
    [N("ReduceSum", ["x", "axes"], ["a"], keepdims=1),
     N("ReduceLogSumExp", ["x"], ["b"], axes=[2], keepdims=0),
     N("ReduceMax", ["b"], ["c"], axes=[0], keepdims=0),
     N("ReduceSumSquare", ["a"], ["d"], keepdims=0),
     N("ArgMax", ["x"], ["y"], axis=1, keepdims=0, select_last_index=1)],
    [vi("x", F, [2, 3, 4])], [vi("y", I64, [2, 4]), vi("c", F, [3]), vi("d", F, [])],
    [i64("axes", [1])])

# ConvTranspose (stride, output_padding, groups), Conv with dilation and auto_pad, MaxPool dilations.
seeds["conv_transpose.onnx"] = model(
    [N("ConvTranspose", ["x", "tw", "tb"], ["a"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
       output_padding=[1, 1], group=2),
     N("Conv", ["a", "cw"], ["b"], kernel_shape=[2, 2], dilations=[2, 2], auto_pad="SAME_UPPER"),
     N("MaxPool", ["b"], ["y"], kernel_shape=[2, 2], dilations=[2, 2], strides=[1, 1])],
    [vi("x", F, [1, 4, 3, 3])], [vi("y", F, [1, 2, 4, 4])],
    [w("tw", 4, 2, 3, 3), w("tb", 4), w("cw", 2, 4, 2, 2)])

# Losses: SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss with ignore_index.
seeds["losses.onnx"] = model(
    [N("SoftmaxCrossEntropyLoss", ["x", "t"], ["a", "lp"], reduction="mean", ignore_index=2),
     N("NegativeLogLikelihoodLoss", ["lp", "t"], ["y"], reduction="sum")],
    [vi("x", F, [3, 4]), vi("t", I64, [3])], [vi("a", F, []), vi("y", F, [])])

# Gemm with transA and alpha/beta, Cast chains through int32, Dropout (inference), Softmax opset 13.
seeds["gemm_cast_dropout.onnx"] = model(
    [N("Gemm", ["x", "gw", "gb"], ["a"], transA=1, alpha=0.5, beta=2.0),
     N("Dropout", ["a"], ["b"]),
     N("Cast", ["b"], ["c"], to=TensorProto.INT32),
     N("Cast", ["c"], ["d"], to=F),
     N("CastLike", ["d", "x"], ["e"]),
     N("Softmax", ["e"], ["y"], axis=0)],
    [vi("x", F, [3, 2])], [vi("y", F, [2, 4])], [w("gw", 3, 4), w("gb", 4)])

# Malformed or unsupported: the importer must reject each with plumb::Error.
seeds["bad_cycle.onnx"] = model(
    [N("Relu", ["b"], ["a"]), N("Relu", ["a"], ["b"]), N("Add", ["x", "b"], ["y"])],
    [vi("x", F, [2])], [vi("y", F, [2])], check=False)
seeds["bad_missing_initializer.onnx"] = model(
    [N("Add", ["x", "nowhere"], ["y"])], [vi("x", F, [2])], [vi("y", F, [2])], check=False)
seeds["bad_unknown_op.onnx"] = model(
    [N("NoSuchOp", ["x"], ["y"])], [vi("x", F, [2])], [vi("y", F, [2])], check=False)
seeds["bad_absurd_input_dims.onnx"] = model(
    [N("Relu", ["x"], ["y"])], [vi("x", F, [4294967296, 4294967296])], [vi("y", F, [4294967296, 4294967296])])
seeds["bad_absurd_initializer_dims.onnx"] = model(
    [N("Add", ["x", "big"], ["y"])], [vi("x", F, [1])], [vi("y", F, [1])],
    [raw_tensor("big", F, [65536, 65536], b"\0" * 4)], check=False)
seeds["bad_short_raw_data.onnx"] = model(
    [N("Add", ["x", "k"], ["y"])], [vi("x", F, [4])], [vi("y", F, [4])],
    [raw_tensor("k", F, [4], b"\0" * 12)], check=False)
seeds["bad_opset_1.onnx"] = model(
    [N("Relu", ["x"], ["y"])], [vi("x", F, [2])], [vi("y", F, [2])], opset=1, check=False)
seeds["bad_shape_mismatch.onnx"] = model(
    [N("MatMul", ["x", "k"], ["y"])], [vi("x", F, [2, 3])], [vi("y", F, [2, 4])], [w("k", 5, 4)], check=False)
# Regressions, found by onnx_fuzz: a converter read a missing constant input (Pad/Reshape/Expand
# with one input) out of the node's bounds, and Pad's padded shape overflowed int64.
for op in ("Pad", "Reshape", "Expand"):
    seeds[f"regress_{op.lower()}_missing_input.onnx"] = model(
        [N(op, ["x"], ["y"])], [vi("x", F, [2, 3])], [vi("y", F, [2, 3])], check=False)
seeds["regress_pad_overflow.onnx"] = model(
    [N("Pad", ["x", "pads"], ["y"])], [vi("x", F, [2, 3])], [vi("y", F, [2, 3])],
    [i64("pads", [2**62, 2**62, 2**62, 2**62])], check=False)

# ---- dictionary ----
# The ops plumb's importer handles (onnx_supported_ops()).
OPS = ["Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization", "Cast",
       "CastLike", "Celu", "Clip", "Compress", "Concat", "Constant", "ConstantOfShape", "Conv",
       "ConvTranspose", "CumSum", "DepthToSpace", "Div", "Dropout", "Elu", "Equal", "Exp",
       "Expand", "EyeLike", "Flatten", "Gather", "GatherElements", "GatherND", "Gemm",
       "GlobalAveragePool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "HardSigmoid",
       "HardSwish", "Hardmax", "Identity", "InstanceNormalization", "IsInf", "IsNaN", "LRN",
       "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax", "MatMul",
       "Max", "MaxPool", "Mean", "MeanVarianceNormalization", "Min", "Mul", "Neg",
       "NegativeLogLikelihoodLoss", "Not", "OneHot", "Or", "PRelu", "Pad", "Pow", "Range",
       "Reciprocal", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
       "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Resize", "ScatterElements", "ScatterND",
       "Selu", "Shape", "Shrink", "Sigmoid", "Sign", "Size", "Slice", "Softmax",
       "SoftmaxCrossEntropyLoss", "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt",
       "Squeeze", "Sub", "Sum", "Tanh", "ThresholdedRelu", "Tile", "Transpose", "Trilu",
       "Unsqueeze", "Where", "Xor"]
ATTRS = ["axis", "axes", "keepdims", "kernel_shape", "pads", "strides", "dilations", "group", "perm",
         "transA", "transB", "alpha", "beta", "epsilon", "ceil_mode", "count_include_pad", "to", "value",
         "mode", "split", "allowzero", "auto_pad", "output_padding", "output_shape", "blocksize", "upper",
         "reduction", "ignore_index", "coordinate_transformation_mode", "nearest_mode", "exclusive",
         "reverse", "select_last_index", "storage_order", "noop_with_empty_axes"]


def tag(field, wire):
    """A protobuf field key as bytes (varint of field << 3 | wire type)."""
    v, out = field << 3 | wire, b""
    while True:
        b, v = v & 0x7F, v >> 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def esc(data):
    return "".join(chr(c) if 32 <= c < 127 and chr(c) not in '"\\' else f"\\x{c:02x}" for c in data)


VARINT, I64W, LEN, I32W = 0, 1, 2, 5
entries = [
    ("model_ir_version", tag(1, VARINT) + b"\x08"), ("model_opset_import", tag(8, LEN)),
    ("model_graph", tag(7, LEN)), ("opset_version_17", tag(2, VARINT) + b"\x11"),
    ("graph_node", tag(1, LEN)), ("graph_initializer", tag(5, LEN)), ("graph_input", tag(11, LEN)),
    ("graph_output", tag(12, LEN)), ("graph_value_info", tag(13, LEN)),
    ("node_input", tag(1, LEN)), ("node_output", tag(2, LEN)), ("node_op_type", tag(4, LEN)),
    ("node_attribute", tag(5, LEN)), ("node_domain", tag(7, LEN)),
    ("attr_f", tag(2, I32W)), ("attr_i", tag(3, VARINT)), ("attr_s", tag(4, LEN)), ("attr_t", tag(5, LEN)),
    ("attr_g", tag(6, LEN)), ("attr_floats", tag(7, LEN)), ("attr_ints", tag(8, LEN)),
    ("attr_type_ints", tag(20, VARINT) + b"\x07"), ("attr_type_int", tag(20, VARINT) + b"\x02"),
    ("tensor_dims", tag(1, VARINT)), ("tensor_dims_packed", tag(1, LEN)),
    ("tensor_data_type_float", tag(2, VARINT) + b"\x01"), ("tensor_data_type_int64", tag(2, VARINT) + b"\x07"),
    ("tensor_float_data", tag(4, LEN)), ("tensor_int32_data", tag(5, LEN)), ("tensor_int64_data", tag(7, LEN)),
    ("tensor_raw_data", tag(9, LEN)), ("tensor_data_location_external", tag(14, VARINT) + b"\x01"),
    ("type_tensor_type", tag(1, LEN)), ("tensor_type_shape", tag(2, LEN)), ("shape_dim", tag(1, LEN)),
    ("dim_value_big", tag(1, VARINT) + b"\xff\xff\xff\xff\x0f"), ("dim_param", tag(2, LEN) + b"\x05batch"),
    ("int64_max", b"\xff\xff\xff\xff\xff\xff\xff\xff\x7f"), ("varint_minus1", b"\xff" * 9 + b"\x01"),
]
for op in OPS:
    entries.append((f"op_{op}", op.encode()))
    entries.append((f"op_field_{op}", tag(4, LEN) + bytes([len(op)]) + op.encode()))
for a in ATTRS:
    entries.append((f"attr_name_{a}", tag(1, LEN) + bytes([len(a)]) + a.encode()))

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    assert len(data) < 4096, (name, len(data))
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
# One-byte keys add nothing over libFuzzer's byte mutations; keep the longer tokens, once each.
seen = set()
entries = [(n, d) for n, d in entries if len(d) >= 2 and not (d in seen or seen.add(d))]
with open(os.path.join(HERE, "onnx.dict"), "w") as f:
    f.write("# libFuzzer dictionary for onnx_fuzz (written by make_corpus.py): op type names, bare and as a\n"
            "# NodeProto op_type field; attribute names as AttributeProto name fields; multi-byte protobuf\n"
            "# fields (ir_version, opset version, attribute and element types, dims).\n")
    for name, data in entries:
        f.write(f'{name}="{esc(data)}"\n')
print(f"wrote {len(seeds)} files to {OUT} and {len(entries)} entries to onnx.dict")
