#include "ops/op_def.h"

namespace plumb::ops {

Cost io_bytes(std::span<const TensorSpec> in, std::span<const TensorSpec> out, double flops) {
  Cost c;
  c.flops = flops;
  for (const TensorSpec& s : in) c.bytes_read += bytes_of(s);
  for (const TensorSpec& s : out) c.bytes_written += bytes_of(s);
  return c;
}

void check_same_device(std::string_view op, std::span<const TensorSpec> in) {
  for (size_t i = 1; i < in.size(); ++i)
    if (in[i].device != in[0].device)
      fail(op, ": input ", i, " is on ", in[i].device.str(), " but input 0 is on ", in[0].device.str());
}

void check_float(std::string_view op, const TensorSpec& s, std::string_view what) {
  if (!is_floating(s.dtype)) fail(op, ": ", what, " must be a floating tensor, got ", dtype_name(s.dtype));
}

void check_same_dtype(std::string_view op, const TensorSpec& a, const TensorSpec& b) {
  if (a.dtype != b.dtype)
    fail(op, ": operand dtypes differ (", dtype_name(a.dtype), " vs ", dtype_name(b.dtype), "); cast one first");
}

Tensor scalar_like(const Tensor& like, double value) { return Tensor::full({}, value, like.dtype(), like.device()); }
Tensor zeros_like(const Tensor& like) { return Tensor::zeros(like.shape(), like.dtype(), like.device()); }
Tensor ones_like(const Tensor& like) { return Tensor::ones(like.shape(), like.dtype(), like.device()); }

}  // namespace plumb::ops
