// linear (matmul with a transposed weight, plus bias) and embedding (row lookup).
#include "ops/composite/composite.h"

namespace plumb {

namespace {

// x: (..., in), w: (out, in), b: (out) -> (..., out)
std::vector<TensorSpec> infer_linear(std::span<const TensorSpec> in, const Attrs&) {
  const TensorSpec& x = in[0];
  const TensorSpec& w = in[1];
  ops::check_float("linear", x, "input");
  ops::composite::check_float_like("linear", w, x.dtype, "weight");
  if (x.shape.empty()) fail("linear: input must have at least one dim (..., in), got a 0-d tensor");
  if (w.shape.size() != 2) fail("linear: weight must be (out, in), got ", shape_str(w.shape));
  if (x.shape.back() != w.shape[1])
    fail("linear: input has ", x.shape.back(), " features, weight ", shape_str(w.shape), " expects ", w.shape[1]);
  if (in.size() == 3) {
    ops::composite::check_float_like("linear", in[2], x.dtype, "bias");
    if (in[2].shape != Shape{w.shape[0]})
      fail("linear: bias must be ", shape_str(Shape{w.shape[0]}), " to match weight ", shape_str(w.shape), ", got ",
           shape_str(in[2].shape));
  }
  Shape out = x.shape;
  out.back() = w.shape[0];
  return {TensorSpec{out, x.dtype, x.device}};
}

// weight: (V, D), indices: any shape -> (*indices, D)
std::vector<TensorSpec> infer_embedding(std::span<const TensorSpec> in, const Attrs&) {
  const TensorSpec& w = in[0];
  ops::composite::check_index("embedding", in[1], "indices");
  if (w.shape.size() != 2) fail("embedding: weight must be (num_embeddings, dim), got ", shape_str(w.shape));
  Shape out = in[1].shape;
  out.push_back(w.shape[1]);
  return {TensorSpec{out, w.dtype, w.device}};
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  if (b.defined()) return ops::call(PLUMB_OP("linear"), {x, w, b});
  return ops::call(PLUMB_OP("linear"), {x, w});
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  return ops::call(PLUMB_OP("embedding"), {weight, indices});
}

namespace ops::composite {

void register_linear_ops() {
  register_op(OpDef{
      .name = "linear",
      .op_class = OpClass::matrix,
      .min_inputs = 2,
      .max_inputs = 3,
      .infer = infer_linear,
      .differentiable = true,
      // Leading dims are flattened so one (rows, in) x (in, out) matmul runs, as BLAS prefers.
      .decompose =
          [](std::span<const Tensor> in, const Attrs&) {
            const Tensor& x = in[0];
            const Tensor& w = in[1];
            const int64_t features = x.size(-1), outs = w.size(0);
            Tensor wt = transpose(w, 0, 1);
            Tensor y;
            if (x.dim() == 2) {
              y = matmul(x, wt);
            } else {
              Shape lead(x.shape().begin(), x.shape().end() - 1);
              Shape out_shape = lead;
              out_shape.push_back(outs);
              y = reshape(matmul(reshape(x, {numel(lead), features}), wt), out_shape);
            }
            if (in.size() == 3) y = add(y, in[2]);
            return std::vector<Tensor>{y};
          },
      .doc = "x @ w^T + b for x (..., in), w (out, in), b (out)",
  });

  register_op(OpDef{
      .name = "embedding",
      .op_class = OpClass::movement,
      .min_inputs = 2,
      .max_inputs = 2,
      .infer = infer_embedding,
      .differentiable = true,
      .decompose =
          [](std::span<const Tensor> in, const Attrs&) {
            const Tensor& w = in[0];
            const Tensor& idx = in[1];
            if (!w.is_meta()) check_index_values("embedding", idx, w.size(0), "index");
            if (idx.dim() == 1) return std::vector<Tensor>{index_select(w, 0, idx)};
            Shape out = idx.shape();
            out.push_back(w.size(1));
            Tensor rows = index_select(w, 0, reshape(idx, {idx.numel()}));
            return std::vector<Tensor>{reshape(rows, out)};
          },
      .doc = "rows of weight (V, D) at integer indices of any shape -> (*indices, D)",
  });
}

}  // namespace ops::composite
}  // namespace plumb
