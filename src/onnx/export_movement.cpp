// Emitters of the movement ops. Where a shape is an attribute (reshape, expand, slice, split) the
// emitted form follows the batch plan: the batch entry becomes 0/-1, 1 or the runtime batch.
#include <algorithm>
#include <string>

#include "onnx/export.h"
#include "plumb/error.h"
#include "plumb/op_attrs.h"

namespace plumb::onnx_io {

namespace {

using Node = graph::Node;
namespace pb = ::onnx;

const Shape& in_shape(const ExportContext& ctx, const Node& n, size_t i = 0) { return ctx.in_value(n, i).spec.shape; }
const Shape& out_shape(const ExportContext& ctx, const Node& n, size_t i = 0) {
  return ctx.out_value(n, i).spec.shape;
}

int64_t axis_of(int64_t axis, size_t rank) { return axis < 0 ? axis + static_cast<int64_t>(rank) : axis; }

pb::NodeProto& unary(ExportContext& ctx, const Node& n, std::string_view type, std::vector<std::string> extra = {}) {
  std::vector<std::string> ins{ctx.in(n, 0)};
  ins.insert(ins.end(), extra.begin(), extra.end());
  return ctx.add(n, type, ins, {ctx.out_name(n, 0)});
}

// The target is the output shape; with a dynamic batch its batch entry is 0 (copy the input's, same
// axis and size) or -1 (inferred), so the reshape follows the batch.
void emit_reshape(ExportContext& ctx, const Node& n) {
  const Shape& is = in_shape(ctx, n);
  std::vector<int64_t> target = out_shape(ctx, n);
  const bool has_zero = std::find(target.begin(), target.end(), 0) != target.end();
  const BatchDim bo = ctx.batch_of(n.outputs[0]);
  const BatchDim bi = ctx.batch_of(n.inputs[0]);
  if (bo.has()) {
    const auto ax = static_cast<size_t>(bo.axis);
    const bool same = !has_zero && bi.axis == bo.axis && ax < is.size() && is[ax] == target[ax];
    target[ax] = same ? 0 : -1;
  }
  pb::NodeProto& r = unary(ctx, n, "Reshape", {ctx.ints(target, ctx.out_name(n, 0) + "_shape")});
  if (has_zero) {
    // A literal 0 would mean "copy the input's dim" without allowzero (opset 14+).
    if (ctx.opset < 14) fail("onnx export: ", node_label(n), ": reshaping to an empty shape needs opset 14 or newer");
    attr(r, "allowzero", int64_t{1});
  }
}

void emit_permute(ExportContext& ctx, const Node& n) {
  std::vector<int64_t> perm;
  for (int64_t d : node_attrs<PermuteAttrs>(n).dims) perm.push_back(axis_of(d, in_shape(ctx, n).size()));
  attr(unary(ctx, n, "Transpose"), "perm", perm);
}

// ONNX Expand broadcasts both ways: 1 keeps the input's dim, so only the grown dims are written.
void emit_expand(ExportContext& ctx, const Node& n) {
  const Shape& is = in_shape(ctx, n);
  const Shape& os = out_shape(ctx, n);
  const size_t lead = os.size() - is.size();
  Shape shape(os.size());
  for (size_t i = 0; i < os.size(); ++i) shape[i] = (i >= lead && is[i - lead] == os[i]) ? 1 : os[i];
  const std::string& y = ctx.out_name(n, 0);
  const auto f = ctx.plan.forced.find(n.outputs[0]);
  if (ctx.dynamic() && f != ctx.plan.forced.end()) {
    // Broadcast to the batch from a value that does not depend on it: the batch read at run time.
    unary(ctx, n, "Expand", {ctx.runtime_shape(y, shape, f->second.axis, 1)});
    return;
  }
  unary(ctx, n, "Expand", {ctx.ints(shape, y + "_shape")});
}

void emit_slice(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<SliceAttrs>(n);
  const Shape& is = in_shape(ctx, n);
  const int64_t axis = axis_of(a.axis, is.size());
  const int64_t size = is[static_cast<size_t>(axis)];
  auto clamp_bound = [size](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + size : v, 0, size); };
  const int64_t start = clamp_bound(a.start), stop = clamp_bound(a.stop);
  // The whole axis (as the batch axis always is when the batch is dynamic): nothing to slice.
  if (start == 0 && a.step == 1 && out_shape(ctx, n)[static_cast<size_t>(axis)] == size) {
    unary(ctx, n, "Identity");
    return;
  }
  const std::string& y = ctx.out_name(n, 0);
  unary(ctx, n, "Slice",
        {ctx.ints({start}, y + "_starts"), ctx.ints({stop}, y + "_ends"), ctx.ints({axis}, y + "_axes"),
         ctx.ints({a.step}, y + "_steps")});
}

void emit_split(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<SplitAttrs>(n);
  if (n.outputs.size() == 1) {  // one piece is the input (and would bake its size in)
    unary(ctx, n, "Identity");
    return;
  }
  std::vector<std::string> outs;
  for (size_t i = 0; i < n.outputs.size(); ++i) outs.push_back(ctx.out_name(n, i));
  pb::NodeProto& s = ctx.add(n, "Split", {ctx.in(n, 0), ctx.ints(a.sizes, ctx.out_name(n, 0) + "_sizes")}, outs);
  attr(s, "axis", axis_of(a.axis, in_shape(ctx, n).size()));
}

void emit_concat(ExportContext& ctx, const Node& n) {
  std::vector<std::string> ins;
  for (size_t i = 0; i < n.inputs.size(); ++i) ins.push_back(ctx.in(n, i));
  attr(ctx.add(n, "Concat", ins, {ctx.out_name(n, 0)}), "axis",
       axis_of(node_attrs<AxisAttrs>(n).axis, in_shape(ctx, n).size()));
}

void emit_pad(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<PadAttrs>(n);
  const std::string& y = ctx.out_name(n, 0);
  unary(ctx, n, "Pad",
        {ctx.ints(a.pads, y + "_pads"), ctx.scalar(a.value, ctx.in_value(n, 0).spec.dtype, y + "_value")});
}

void emit_copy(ExportContext& ctx, const Node& n) { unary(ctx, n, "Identity"); }

void emit_index_select(ExportContext& ctx, const Node& n) {
  attr(ctx.add(n, "Gather", {ctx.in(n, 0), ctx.in(n, 1)}, {ctx.out_name(n, 0)}), "axis",
       axis_of(node_attrs<AxisAttrs>(n).axis, in_shape(ctx, n).size()));
}

void emit_gather(ExportContext& ctx, const Node& n) {
  attr(ctx.add(n, "GatherElements", {ctx.in(n, 0), ctx.in(n, 1)}, {ctx.out_name(n, 0)}), "axis",
       axis_of(node_attrs<AxisAttrs>(n).axis, in_shape(ctx, n).size()));
}

void emit_scatter_add(ExportContext& ctx, const Node& n) {
  if (ctx.opset < 16)
    fail("onnx export: ", node_label(n), ": scatter_add needs ScatterElements with reduction, opset 16 or newer");
  pb::NodeProto& s =
      ctx.add(n, "ScatterElements", {ctx.in(n, 0), ctx.in(n, 1), ctx.in(n, 2)}, {ctx.out_name(n, 0)});
  attr(s, "axis", axis_of(node_attrs<AxisAttrs>(n).axis, in_shape(ctx, n).size()));
  pb::AttributeProto* r = s.add_attribute();
  r->set_name("reduction");
  r->set_type(pb::AttributeProto::STRING);
  r->set_s("add");
}

}  // namespace

void add_movement_emitters(std::map<std::string, EmitFn, std::less<>>& t) {
  t["reshape"] = emit_reshape;
  t["permute"] = emit_permute;
  t["expand"] = emit_expand;
  t["slice"] = emit_slice;
  t["split"] = emit_split;
  t["concat"] = emit_concat;
  t["pad"] = emit_pad;
  t["copy"] = emit_copy;
  t["index_select"] = emit_index_select;
  t["gather"] = emit_gather;
  t["scatter_add"] = emit_scatter_add;
}

}  // namespace plumb::onnx_io
