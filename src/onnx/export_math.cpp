// Emitters of the elementwise, reduction and matrix ops.
#include <string>

#include "onnx/export.h"
#include "onnx/tensor_proto.h"
#include "plumb/op_attrs.h"

namespace plumb::onnx_io {

namespace {

using Node = graph::Node;
namespace pb = ::onnx;

DType in_dtype(const ExportContext& ctx, const Node& n, size_t i = 0) { return ctx.in_value(n, i).spec.dtype; }

// One ONNX node with the plumb node's inputs and outputs.
pb::NodeProto& same_io(ExportContext& ctx, const Node& n, std::string_view type) {
  std::vector<std::string> ins, outs;
  for (size_t i = 0; i < n.inputs.size(); ++i) ins.push_back(ctx.in(n, i));
  for (size_t i = 0; i < n.outputs.size(); ++i) outs.push_back(ctx.out_name(n, i));
  return ctx.add(n, type, ins, outs);
}

// Cast of a name to an ONNX dtype, into a fresh intermediate.
std::string cast_to(ExportContext& ctx, const Node& n, const std::string& x, int32_t to, std::string_view what) {
  const std::string y = ctx.temp(n, what);
  attr(ctx.add(n, "Cast", {x}, {y}), "to", int64_t{to});
  return y;
}

std::vector<int64_t> normalized(const std::vector<int64_t>& axes, size_t rank) {
  std::vector<int64_t> r;
  for (int64_t a : axes) r.push_back(a < 0 ? a + static_cast<int64_t>(rank) : a);
  return r;
}

void emit_unary(ExportContext& ctx, const Node& n) {
  static const std::map<std::string, const char*, std::less<>> types = {
      {"exp", "Exp"}, {"log", "Log"}, {"sqrt", "Sqrt"}, {"abs", "Abs"}, {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"}};
  same_io(ctx, n, types.at(n.op->name));
}

void emit_neg(ExportContext& ctx, const Node& n) {
  const DType t = in_dtype(ctx, n);
  if (t != DType::u8) {
    same_io(ctx, n, "Neg");
    return;
  }
  // Neg has no uint8 form: 0 - x wraps as plumb's does.
  ctx.add(n, "Sub", {ctx.scalar(0, t, ctx.out_name(n, 0) + "_zero"), ctx.in(n, 0)}, {ctx.out_name(n, 0)});
}

void emit_rsqrt(ExportContext& ctx, const Node& n) {
  const std::string s = ctx.temp(n, "sqrt");
  ctx.add(n, "Sqrt", {ctx.in(n, 0)}, {s});
  ctx.add(n, "Reciprocal", {s}, {ctx.out_name(n, 0)});
}

void emit_relu(ExportContext& ctx, const Node& n) {
  const DType t = in_dtype(ctx, n);
  if (is_floating(t)) {
    same_io(ctx, n, "Relu");
    return;
  }
  // Relu takes integers only from opset 14 (and never uint8): max(x, 0) is the same.
  ctx.add(n, "Max", {ctx.in(n, 0), ctx.scalar(0, t, ctx.out_name(n, 0) + "_zero")}, {ctx.out_name(n, 0)});
}

void emit_clamp(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<ClampAttrs>(n);
  const DType t = in_dtype(ctx, n);
  const std::string& y = ctx.out_name(n, 0);
  ctx.add(n, "Clip", {ctx.in(n, 0), ctx.scalar(a.min, t, y + "_min"), ctx.scalar(a.max, t, y + "_max")}, {y});
}

void emit_cast(ExportContext& ctx, const Node& n) {
  attr(same_io(ctx, n, "Cast"), "to", int64_t{to_onnx_dtype(node_attrs<CastAttrs>(n).dtype)});
}

void emit_binary(ExportContext& ctx, const Node& n) {
  const std::string& op = n.op->name;
  const bool boolean = in_dtype(ctx, n) == DType::boolean;
  // bool: add and maximum are or, mul and minimum are and (as plumb's kernels).
  static const std::map<std::string, std::pair<const char*, const char*>, std::less<>> types = {
      {"add", {"Add", "Or"}}, {"sub", {"Sub", "Sub"}}, {"mul", {"Mul", "And"}}, {"div", {"Div", "Div"}},
      {"pow", {"Pow", "Pow"}}, {"maximum", {"Max", "Or"}}, {"minimum", {"Min", "And"}}};
  const auto& t = types.at(op);
  same_io(ctx, n, boolean ? t.second : t.first);
}

void emit_compare(ExportContext& ctx, const Node& n) {
  const std::string& op = n.op->name;
  std::string a = ctx.in(n, 0), b = ctx.in(n, 1);
  const std::string& y = ctx.out_name(n, 0);
  if (op == "eq" || op == "ne") {
    if (op == "eq") {
      ctx.add(n, "Equal", {a, b}, {y});
    } else {
      const std::string e = ctx.temp(n, "equal");
      ctx.add(n, "Equal", {a, b}, {e});
      ctx.add(n, "Not", {e}, {y});
    }
    return;
  }
  if (in_dtype(ctx, n) == DType::boolean) {  // Less and friends take numbers only
    a = cast_to(ctx, n, a, pb::TensorProto::INT32, "a_int");
    b = cast_to(ctx, n, b, pb::TensorProto::INT32, "b_int");
  }
  static const std::map<std::string, const char*, std::less<>> types = {
      {"lt", "Less"}, {"le", "LessOrEqual"}, {"gt", "Greater"}, {"ge", "GreaterOrEqual"}};
  ctx.add(n, types.at(op), {a, b}, {y});
}

void emit_where(ExportContext& ctx, const Node& n) { same_io(ctx, n, "Where"); }

// sum: ReduceSum with an axes input (opset 13+); integers and bool sum to i64 as plumb's sum does.
void emit_sum(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<ReduceAttrs>(n);
  const DType t = in_dtype(ctx, n);
  std::string x = ctx.in(n, 0);
  if (!is_floating(t) && t != DType::i64) x = cast_to(ctx, n, x, pb::TensorProto::INT64, "i64");
  std::vector<std::string> ins{x};
  if (!a.axes.empty())
    ins.push_back(ctx.ints(normalized(a.axes, ctx.in_value(n, 0).spec.shape.size()), ctx.out_name(n, 0) + "_axes"));
  attr(ctx.add(n, "ReduceSum", ins, {ctx.out_name(n, 0)}), "keepdims", int64_t{a.keepdim ? 1 : 0});
}

// mean, max: the axes are an attribute until opset 18; no axes reduces all.
void emit_reduce_attr(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<ReduceAttrs>(n);
  const bool is_max = n.op->name == "max";
  const bool boolean = in_dtype(ctx, n) == DType::boolean;
  std::string x = ctx.in(n, 0);
  if (boolean) x = cast_to(ctx, n, x, pb::TensorProto::INT32, "int");  // ReduceMax has no bool form
  const std::string y = boolean ? ctx.temp(n, "int_max") : ctx.out_name(n, 0);
  pb::NodeProto& r = ctx.add(n, is_max ? "ReduceMax" : "ReduceMean", {x}, {y});
  if (!a.axes.empty()) attr(r, "axes", normalized(a.axes, ctx.in_value(n, 0).spec.shape.size()));
  attr(r, "keepdims", int64_t{a.keepdim ? 1 : 0});
  if (boolean) attr(ctx.add(n, "Cast", {y}, {ctx.out_name(n, 0)}), "to", int64_t{pb::TensorProto::BOOL});
}

void emit_argmax(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<ArgReduceAttrs>(n);
  std::string x = ctx.in(n, 0);
  if (in_dtype(ctx, n) == DType::boolean) x = cast_to(ctx, n, x, pb::TensorProto::INT32, "int");
  // select_last_index = 0: the first maximum, as plumb's argmax.
  pb::NodeProto& r = ctx.add(n, "ArgMax", {x}, {ctx.out_name(n, 0)});
  attr(r, "axis", normalized({a.axis}, ctx.in_value(n, 0).spec.shape.size())[0]);
  attr(r, "keepdims", int64_t{a.keepdim ? 1 : 0});
}

void emit_matmul(ExportContext& ctx, const Node& n) { same_io(ctx, n, "MatMul"); }

}  // namespace

void add_math_emitters(std::map<std::string, EmitFn, std::less<>>& t) {
  for (const char* op : {"exp", "log", "sqrt", "abs", "sigmoid", "tanh"}) t[op] = emit_unary;
  t["neg"] = emit_neg;
  t["rsqrt"] = emit_rsqrt;
  t["relu"] = emit_relu;
  t["clamp"] = emit_clamp;
  t["cast"] = emit_cast;
  for (const char* op : {"add", "sub", "mul", "div", "pow", "maximum", "minimum"}) t[op] = emit_binary;
  for (const char* op : {"eq", "ne", "lt", "le", "gt", "ge"}) t[op] = emit_compare;
  t["where"] = emit_where;
  t["sum"] = emit_sum;
  t["mean"] = emit_reduce_attr;
  t["max"] = emit_reduce_attr;
  t["argmax"] = emit_argmax;
  t["matmul"] = emit_matmul;
}

}  // namespace plumb::onnx_io
