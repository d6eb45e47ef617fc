// Emitters of the random ops: normal -> RandomNormal, uniform -> RandomUniform, bernoulli ->
// RandomUniform (f64) + Less + Cast. A draw that carries the batch becomes the *Like form of a
// tensor shaped at run time. ONNX leaves the values to the runtime; the seed rule below lets plumb's
// importer draw plumb's numbers again (docs/onnx.md, "Random ops").
#include <cmath>
#include <string>

#include "onnx/export.h"
#include "onnx/tensor_proto.h"
#include "plumb/error.h"
#include "plumb/op_attrs.h"

namespace plumb::onnx_io {

double onnx_seed(int64_t seed, int64_t offset) {
  const auto s = static_cast<uint64_t>(seed);
  if (offset == 0 && s < (uint64_t{1} << 63) && static_cast<uint64_t>(static_cast<float>(s)) == s)
    return static_cast<double>(static_cast<float>(s));
  // splitmix64 of (seed, offset), cut to 24 bits so the float holds it exactly.
  uint64_t z = s ^ (static_cast<uint64_t>(offset) * 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 40);
}

namespace {

using Node = graph::Node;
namespace pb = ::onnx;

// RandomX with a static `shape`, or RandomXLike of ConstantOfShape(runtime shape) when the draw
// carries the batch. `dtype` is the ONNX element type of the draw.
pb::NodeProto& draw(ExportContext& ctx, const Node& n, const RandomAttrs& a, std::string_view type,
                    const std::string& out, int32_t dtype) {
  const auto f = ctx.plan.forced.find(n.outputs[0]);
  pb::NodeProto* node = nullptr;
  if (ctx.dynamic() && f != ctx.plan.forced.end()) {
    const std::string shape = ctx.runtime_shape(out, a.shape, f->second.axis, 1);
    const std::string like = ctx.temp(n, "like");
    ctx.add(n, "ConstantOfShape", {shape}, {like});
    node = &ctx.add(n, std::string(type) + "Like", {like}, {out});
  } else {
    node = &ctx.add(n, type, {}, {out});
    attr(*node, "shape", std::vector<int64_t>(a.shape.begin(), a.shape.end()));
  }
  attr(*node, "dtype", int64_t{dtype});
  attr(*node, "seed", onnx_seed(a.seed, a.offset));
  return *node;
}

void check_untruncated(const Node& n, const RandomAttrs& a) {
  if (!(std::isinf(a.lo) && a.lo < 0 && std::isinf(a.hi) && a.hi > 0))
    fail("onnx export: ", node_label(n), ": a truncated normal (lo=", a.lo, ", hi=", a.hi,
         ") has no ONNX form; ONNX's RandomNormal cannot redraw values outside an interval");
}

// A draw whose two parameters are plumb's (a, b) under their ONNX names.
void emit_two_parameter_draw(ExportContext& ctx, const Node& n, std::string_view type, const char* a_name,
                             const char* b_name) {
  const auto& a = node_attrs<RandomAttrs>(n);
  check_untruncated(n, a);
  pb::NodeProto& node = draw(ctx, n, a, type, ctx.out_name(n, 0), to_onnx_dtype(a.dtype));
  attr(node, a_name, a.a);
  attr(node, b_name, a.b);
}

void emit_normal(ExportContext& ctx, const Node& n) { emit_two_parameter_draw(ctx, n, "RandomNormal", "mean", "scale"); }
void emit_uniform(ExportContext& ctx, const Node& n) { emit_two_parameter_draw(ctx, n, "RandomUniform", "low", "high"); }

// plumb's bernoulli is u < p with u drawn in f64 from the same counters as a uniform(0, 1) f64
// draw, so RandomUniform(double) + Less reproduces it bit for bit after import.
void emit_bernoulli(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<RandomAttrs>(n);
  check_untruncated(n, a);
  const std::string u = ctx.temp(n, "uniform");
  pb::NodeProto& node = draw(ctx, n, a, "RandomUniform", u, pb::TensorProto::DOUBLE);
  attr(node, "low", 0.0);
  attr(node, "high", 1.0);
  const std::string p = ctx.scalar(a.a, DType::f64, ctx.out_name(n, 0) + "_p");
  const std::string less = ctx.temp(n, "less");
  ctx.add(n, "Less", {u, p}, {less});
  attr(ctx.add(n, "Cast", {less}, {ctx.out_name(n, 0)}), "to", int64_t{to_onnx_dtype(a.dtype)});
}

}  // namespace

void add_random_emitters(std::map<std::string, EmitFn, std::less<>>& t) {
  t["normal"] = emit_normal;
  t["uniform"] = emit_uniform;
  t["bernoulli"] = emit_bernoulli;
}

}  // namespace plumb::onnx_io
