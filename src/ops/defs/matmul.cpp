// The matrix family: matmul with NumPy batch broadcasting.
#include <string>

#include "ops/op_def.h"

namespace plumb::ops {

namespace {

// a: (..., M, K), b: (..., K, N) -> (broadcast(...), M, N)
std::vector<TensorSpec> infer_matmul(std::span<const TensorSpec> in, const Attrs&) {
  const TensorSpec& a = in[0];
  const TensorSpec& b = in[1];
  check_same_device("matmul", in);
  check_float("matmul", a, "a");
  check_float("matmul", b, "b");
  check_same_dtype("matmul", a, b);
  if (a.shape.size() < 2 || b.shape.size() < 2)
    fail("matmul: operands must have rank >= 2, got a ", shape_str(a.shape), " and b ", shape_str(b.shape),
         " (unsqueeze a vector first)");
  const size_t ra = a.shape.size(), rb = b.shape.size();
  const int64_t m = a.shape[ra - 2], k = a.shape[ra - 1], kb = b.shape[rb - 2], n = b.shape[rb - 1];
  if (k != kb)
    fail("matmul: a ", shape_str(a.shape), " has ", k, " columns but b ", shape_str(b.shape), " has ", kb, " rows");
  const std::span<const int64_t> batch_a(a.shape.data(), ra - 2), batch_b(b.shape.data(), rb - 2);
  Shape out = broadcast_shapes(batch_a, batch_b, "matmul");
  out.push_back(m);
  out.push_back(n);
  return {TensorSpec{std::move(out), a.dtype, a.device}};
}

// 2*M*N*K per output batch matrix; each operand read once at its own size.
Cost cost_matmul(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&) {
  const Shape& a = in[0].shape;
  const double k = static_cast<double>(a[a.size() - 1]);
  return io_bytes(in, out, 2.0 * elems_of(out[0]) * k);
}

// grad_a = sum_to(g @ b^T), grad_b = sum_to(a^T @ g); the transposes are views.
std::vector<Tensor> vjp_matmul(const VjpArgs& v) {
  const Tensor& a = v.inputs[0];
  const Tensor& b = v.inputs[1];
  const Tensor& g = v.grad_outputs[0];
  std::vector<Tensor> grads(2);
  if (v.needs_grad[0]) {
    Tensor ga = matmul(g, transpose(b, b.dim() - 2, b.dim() - 1));
    grads[0] = ga.shape() == a.shape() ? ga : sum_to(ga, a.shape());
  }
  if (v.needs_grad[1]) {
    // b a transposed view (x @ w^T of a linear layer): compute (g^T @ a)^T, whose layout matches b's, so
    // the gradient reaching w is contiguous and needs no strided copy later (same FLOPs).
    const bool b_transposed = a.dim() == 2 && b.dim() == 2 && b.shape()[0] > 1 && b.shape()[1] > 1 &&
                              b.strides()[0] == 1 && b.strides()[1] >= b.shape()[0];
    if (b_transposed) {
      grads[1] = transpose(matmul(transpose(g, 0, 1), a), 0, 1);
    } else {
      Tensor gb = matmul(transpose(a, a.dim() - 2, a.dim() - 1), g);
      grads[1] = gb.shape() == b.shape() ? gb : sum_to(gb, b.shape());
    }
  }
  return grads;
}

}  // namespace

void register_matmul_ops() {
  register_op(OpDef{
      .name = "matmul",
      .op_class = OpClass::matrix,
      .min_inputs = 2,
      .max_inputs = 2,
      .infer = infer_matmul,
      .cost = cost_matmul,
      .vjp = vjp_matmul,
      .differentiable = true,
      .doc = "a (..., M, K) @ b (..., K, N) -> (..., M, N); batch dims broadcast",
  });
}

}  // namespace plumb::ops

namespace plumb {
Tensor matmul(const Tensor& a, const Tensor& b) { return ops::call(PLUMB_OP("matmul"), {a, b}); }
}  // namespace plumb
