// Conformance cases for matmul: 2-D, batched, broadcast batch dims, a shared right operand (the
// folded single-GEMM path of OpenBLAS), size-1 and empty dims. Costs are counted multiply-add by
// multiply-add and element by element for the inputs cast to f32.
#include "harness.h"

namespace plumb::testing {

namespace {

constexpr double kF32 = 4;

double f32_bytes(const Shape& shape) {
  double bytes = 0;
  const int64_t n = numel(shape);
  for (int64_t i = 0; i < n; ++i) bytes += kF32;
  return bytes;
}

// Walks every output element of the batched product and every k of its dot product: 2 FLOPs each.
Cost counted_matmul_cost(const Shape& a, const Shape& b, const Shape& y) {
  const int64_t m = y[y.size() - 2], n = y[y.size() - 1], k = a.back();
  int64_t batches = 1;
  for (size_t d = 0; d + 2 < y.size(); ++d) batches *= y[d];
  double flops = 0;
  for (int64_t batch = 0; batch < batches; ++batch)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t p = 0; p < k; ++p) flops += 2;
  return cost_of(flops, f32_bytes(a) + f32_bytes(b), f32_bytes(y));
}

OpCase mm_case(std::string label, Shape a, Shape b, Shape y, uint64_t seed) {
  OpCase c;
  c.label = std::move(label);
  c.expected_cost = counted_matmul_cost(a, b, y);
  c.inputs = {rand_f64(std::move(a), seed), rand_f64(std::move(b), seed + 1)};
  return c;
}

}  // namespace

PLUMB_OP_CASES(matmul) {
  return {
      mm_case("2-D", {3, 4}, {4, 5}, {3, 5}, 1),
      mm_case("batched", {2, 3, 4}, {2, 4, 2}, {2, 3, 2}, 3),
      mm_case("broadcast batch dims", {2, 1, 3, 4}, {3, 4, 2}, {2, 3, 3, 2}, 5),
      mm_case("size-1 batch of b broadcasts", {2, 2, 3}, {1, 3, 2}, {2, 2, 2}, 7),
      mm_case("shared 2-D right operand", {2, 3, 4}, {4, 5}, {2, 3, 5}, 9),
      mm_case("shared left operand", {3, 4}, {2, 4, 2}, {2, 3, 2}, 11),
      mm_case("row times column", {1, 4}, {4, 1}, {1, 1}, 13),
      mm_case("outer product (K=1)", {3, 1}, {1, 2}, {3, 2}, 15),
      mm_case("empty batch", {0, 2, 3}, {3, 2}, {0, 2, 2}, 17),
      mm_case("empty inner dim (K=0) gives zeros", {2, 0}, {0, 3}, {2, 3}, 19),
  };
}

}  // namespace plumb::testing
