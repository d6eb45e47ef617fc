// Registers the composite ops and holds the helpers their records share.
#include <cmath>

#include "ops/composite/composite.h"

namespace plumb::ops {

void register_composite_ops() {
  composite::register_softmax_ops();
  composite::register_loss_ops();
  composite::register_linear_ops();
  composite::register_norm_ops();
  composite::register_dropout_ops();
  composite::register_rnn_ops();
  composite::register_attention_ops();
}

namespace composite {

void check_float_like(std::string_view op, const TensorSpec& s, DType dtype, std::string_view what) {
  check_float(op, s, what);
  if (s.dtype != dtype)
    fail(op, ": ", what, " is ", dtype_name(s.dtype), " but the input is ", dtype_name(dtype), "; cast one first");
}

void check_index(std::string_view op, const TensorSpec& s, std::string_view what) {
  if (s.dtype != DType::i64 && s.dtype != DType::i32)
    fail(op, ": ", what, " must be an integer index tensor (i64 or i32), got ", dtype_name(s.dtype));
}

void check_reduction(std::string_view op, const std::string& reduction) {
  if (reduction != "mean" && reduction != "sum" && reduction != "none")
    fail(op, ": unknown reduction '", reduction, "' (expected mean, sum or none)");
}

Tensor reduce_loss(const Tensor& t, const std::string& reduction) {
  if (reduction == "mean") return mean(t);
  if (reduction == "sum") return sum(t);
  return t;
}

void check_index_values(std::string_view op, const Tensor& index, int64_t n, std::string_view what, bool use_skip,
                        int64_t skip) {
  if (index.device().type != DeviceType::cpu || index.numel() == 0) return;
  // Walks the (possibly strided) index in row-major order; reading values needs no dispatch.
  const Shape& shape = index.shape();
  const Shape& strides = index.strides();
  const int64_t total = index.numel();
  const bool i64 = index.dtype() == DType::i64;
  const char* base = static_cast<const char*>(index.raw_data());
  for (int64_t i = 0; i < total; ++i) {
    int64_t off = 0, rest = i;
    for (size_t d = shape.size(); d-- > 0;) {
      off += (rest % shape[d]) * strides[d];
      rest /= shape[d];
    }
    const int64_t v = i64 ? reinterpret_cast<const int64_t*>(base)[off]
                          : static_cast<int64_t>(reinterpret_cast<const int32_t*>(base)[off]);
    if (use_skip && v == skip) continue;
    if (v < 0 || v >= n) fail(op, ": ", what, " value ", v, " at position ", i, " is out of range [0, ", n, ")");
  }
}

}  // namespace composite
}  // namespace plumb::ops
