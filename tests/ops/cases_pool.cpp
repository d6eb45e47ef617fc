// Conformance cases for pooling: max_pool, avg_pool, max_pool_backward, avg_pool_backward.
// Output sizes are found by sliding the window along each padded dim (not the closed formula), and
// costs are counted tap by tap for the inputs cast to f32 (4 bytes per element).
#include "harness.h"

namespace plumb::testing {

namespace {

constexpr double kF32 = 4;

struct Window {
  Shape kernel, stride, padding;  // explicit here; the attrs may leave stride/padding empty
  bool ceil_mode = false;
};

// Number of window positions along one dim, found by sliding a window start over the padded input
// (length S + 2p): floor mode keeps windows that fit; ceil mode also keeps one partial window when the
// previous one did not reach the end, as long as it starts inside the input or the left padding.
int64_t slide_count(int64_t s, int64_t k, int64_t st, int64_t p, bool ceil_mode) {
  const int64_t padded = s + 2 * p;
  int64_t n = 0;
  for (int64_t start = 0;; start += st) {
    const bool fits = start + k <= padded;
    const bool partial = ceil_mode && start < s + p && (start == 0 || start - st + k < padded);
    if (!fits && !partial) break;
    ++n;
  }
  return n;
}

Shape pooled_shape(const Shape& x, const Window& w) {
  Shape out = {x[0], x[1]};
  for (size_t d = 0; d < w.kernel.size(); ++d)
    out.push_back(slide_count(x[2 + d], w.kernel[d], w.stride[d], w.padding[d], w.ceil_mode));
  return out;
}

// Visits every element of `shape` once, counting f32 bytes.
double f32_bytes(const Shape& shape) {
  double bytes = 0;
  const int64_t n = numel(shape);
  for (int64_t i = 0; i < n; ++i) bytes += kF32;
  return bytes;
}

// One FLOP per (pooled element, kernel tap), padding taps included.
double tap_flops(const Shape& pooled, const Shape& kernel) {
  double flops = 0;
  const int64_t outputs = numel(pooled), taps = numel(kernel);
  for (int64_t o = 0; o < outputs; ++o)
    for (int64_t t = 0; t < taps; ++t) flops += 1;
  return flops;
}

Cost counted(const Shape& pooled, const Shape& kernel, const std::vector<Shape>& reads, const Shape& write) {
  double r = 0;
  for (const Shape& s : reads) r += f32_bytes(s);
  return cost_of(tap_flops(pooled, kernel), r, f32_bytes(write));
}

// Attrs as a caller might pass them: empty stride when it equals the kernel, empty padding when zero.
PoolAttrs pool_attrs(const Window& w, bool count_include_pad = true) {
  PoolAttrs a;
  a.kernel = w.kernel;
  a.stride = w.stride == w.kernel ? Shape{} : w.stride;
  bool zero_pad = true;
  for (int64_t p : w.padding) zero_pad = zero_pad && p == 0;
  a.padding = zero_pad ? Shape{} : w.padding;
  a.ceil_mode = w.ceil_mode;
  a.count_include_pad = count_include_pad;
  return a;
}

PoolBackwardAttrs pool_backward_attrs(const Window& w, const Shape& input_shape, bool count_include_pad) {
  PoolBackwardAttrs a;
  a.kernel = w.kernel;
  a.stride = w.stride;
  a.padding = w.padding;
  a.ceil_mode = w.ceil_mode;
  a.count_include_pad = count_include_pad;
  a.input_shape = input_shape;
  return a;
}

OpCase forward_case(std::string label, const Shape& x, const Window& w, uint64_t seed, bool count_include_pad = true) {
  OpCase c;
  c.label = std::move(label);
  c.inputs = {rand_f64(x, seed)};
  c.attrs = attrs(pool_attrs(w, count_include_pad));
  const Shape y = pooled_shape(x, w);
  c.expected_cost = counted(y, w.kernel, {x}, y);
  return c;
}

OpCase max_backward_case(std::string label, const Shape& x, const Window& w, uint64_t seed) {
  OpCase c;
  c.label = std::move(label);
  const Shape y = pooled_shape(x, w);
  c.inputs = {rand_f64(x, seed), rand_f64(y, seed + 1)};
  c.attrs = attrs(pool_attrs(w));
  c.expected_cost = counted(y, w.kernel, {x, y}, x);
  return c;
}

OpCase avg_backward_case(std::string label, const Shape& x, const Window& w, uint64_t seed, bool count_include_pad) {
  OpCase c;
  c.label = std::move(label);
  const Shape y = pooled_shape(x, w);
  c.inputs = {rand_f64(y, seed)};
  c.attrs = attrs(pool_backward_attrs(w, x, count_include_pad));
  c.expected_cost = counted(y, w.kernel, {y}, x);
  return c;
}

// Shared geometries: every op runs over the same spread of dims, strides, paddings and ceil modes.
const Window k2 = {{2, 2}, {2, 2}, {0, 0}};
const Window k3s1p1 = {{3, 3}, {1, 1}, {1, 1}};
const Window k3s2p1_1d = {{3}, {2}, {1}};
const Window k2_3d = {{2, 2, 2}, {1, 2, 2}, {1, 0, 1}};
const Window ceil2d = {{2, 3}, {2, 2}, {0, 1}, true};         // last window runs past the padding
const Window ceil_pad_1d = {{3}, {2}, {1}, true};             // ceil with padding: partial last window
const Window ceil_3d = {{2, 2, 3}, {2, 2, 2}, {1, 0, 1}, true};
const Window unit = {{1, 1}, {1, 1}, {0, 0}};

}  // namespace

PLUMB_OP_CASES(max_pool) {
  std::vector<OpCase> cases = {
      forward_case("2-d, stride = kernel", {2, 3, 4, 5}, k2, 1),
      forward_case("2-d 3x3 stride 1 pad 1", {1, 2, 4, 5}, k3s1p1, 2),
      forward_case("1-d stride 2 pad 1", {2, 2, 7}, k3s2p1_1d, 3),
      forward_case("3-d mixed stride and pad", {1, 2, 3, 4, 4}, k2_3d, 4),
      forward_case("2-d ceil_mode", {1, 2, 5, 6}, ceil2d, 5),
      forward_case("1-d ceil_mode with padding", {2, 1, 6}, ceil_pad_1d, 6),
      forward_case("3-d ceil_mode", {1, 1, 3, 4, 5}, ceil_3d, 7),
      forward_case("1x1 input, 1x1 kernel", {1, 1, 1, 1}, unit, 8),
      forward_case("empty batch", {0, 2, 4, 4}, k2, 9),
  };
  // Ties: the first max in window order wins on every backend (values on a coarse grid).
  OpCase ties = forward_case("ties", {1, 2, 4, 4}, k3s1p1, 10);
  ties.inputs = {Tensor::from_vector(std::vector<double>{1, 3, 3, 0, 3, 1, 2, 3, 0, 3, 3, 1, 2, 2, 1, 0,  //
                                                         0, 0, 0, 0, 0, 0, 0, 0, 5, 5, 5, 5, 5, 5, 5, 5},
                                     {1, 2, 4, 4})};
  ties.check_grad = false;  // central differences split the gradient at ties
  cases.push_back(ties);
  return cases;
}

PLUMB_OP_CASES(avg_pool) {
  return {
      forward_case("2-d, stride = kernel", {2, 3, 4, 5}, k2, 21),
      forward_case("2-d 3x3 pad 1, include pad", {1, 2, 4, 5}, k3s1p1, 22, true),
      forward_case("2-d 3x3 pad 1, exclude pad", {1, 2, 4, 5}, k3s1p1, 23, false),
      forward_case("1-d stride 2 pad 1, exclude pad", {2, 2, 7}, k3s2p1_1d, 24, false),
      forward_case("3-d, include pad", {1, 2, 3, 4, 4}, k2_3d, 25, true),
      forward_case("3-d, exclude pad", {1, 2, 3, 4, 4}, k2_3d, 26, false),
      forward_case("2-d ceil_mode, include pad", {1, 2, 5, 6}, ceil2d, 27, true),
      forward_case("2-d ceil_mode, exclude pad", {1, 2, 5, 6}, ceil2d, 28, false),
      forward_case("1-d ceil_mode pad 1, include pad", {2, 1, 6}, ceil_pad_1d, 29, true),
      forward_case("1-d ceil_mode pad 1, exclude pad", {2, 1, 6}, ceil_pad_1d, 30, false),
      forward_case("3-d ceil_mode, include pad", {1, 1, 3, 4, 5}, ceil_3d, 31, true),
      forward_case("3-d ceil_mode, exclude pad", {1, 1, 3, 4, 5}, ceil_3d, 32, false),
      forward_case("1x1 input, 1x1 kernel", {1, 1, 1, 1}, unit, 33),
      forward_case("empty batch", {0, 2, 4, 4}, k2, 34),
  };
}

PLUMB_OP_CASES(max_pool_backward) {
  std::vector<OpCase> cases = {
      max_backward_case("2-d, stride = kernel", {2, 3, 4, 5}, k2, 41),
      max_backward_case("2-d 3x3 stride 1 pad 1 (windows overlap)", {1, 2, 4, 5}, k3s1p1, 42),
      max_backward_case("1-d stride 2 pad 1", {2, 2, 7}, k3s2p1_1d, 43),
      max_backward_case("3-d mixed stride and pad", {1, 2, 3, 4, 4}, k2_3d, 44),
      max_backward_case("2-d ceil_mode", {1, 2, 5, 6}, ceil2d, 45),
      max_backward_case("1-d ceil_mode with padding", {2, 1, 6}, ceil_pad_1d, 46),
      max_backward_case("3-d ceil_mode", {1, 1, 3, 4, 5}, ceil_3d, 47),
      max_backward_case("1x1 input, 1x1 kernel", {1, 1, 1, 1}, unit, 48),
      max_backward_case("empty batch", {0, 2, 4, 4}, k2, 49),
  };
  // Ties: every backend sends each window's gradient to its first max in window order.
  OpCase ties = max_backward_case("ties", {1, 1, 4, 4}, k3s1p1, 50);
  ties.inputs[0] = Tensor::from_vector(std::vector<double>{1, 3, 3, 0, 3, 1, 2, 3, 0, 3, 3, 1, 2, 2, 1, 0}, {1, 1, 4, 4});
  ties.check_grad = false;
  cases.push_back(ties);
  return cases;
}

PLUMB_OP_CASES(avg_pool_backward) {
  return {
      avg_backward_case("2-d, stride = kernel", {2, 3, 4, 5}, k2, 61, true),
      avg_backward_case("2-d 3x3 pad 1, include pad", {1, 2, 4, 5}, k3s1p1, 62, true),
      avg_backward_case("2-d 3x3 pad 1, exclude pad", {1, 2, 4, 5}, k3s1p1, 63, false),
      avg_backward_case("1-d stride 2 pad 1, exclude pad", {2, 2, 7}, k3s2p1_1d, 64, false),
      avg_backward_case("3-d, include pad", {1, 2, 3, 4, 4}, k2_3d, 65, true),
      avg_backward_case("3-d, exclude pad", {1, 2, 3, 4, 4}, k2_3d, 66, false),
      avg_backward_case("2-d ceil_mode, include pad", {1, 2, 5, 6}, ceil2d, 67, true),
      avg_backward_case("2-d ceil_mode, exclude pad", {1, 2, 5, 6}, ceil2d, 68, false),
      avg_backward_case("1-d ceil_mode pad 1, include pad", {2, 1, 6}, ceil_pad_1d, 69, true),
      avg_backward_case("3-d ceil_mode, include pad", {1, 1, 3, 4, 5}, ceil_3d, 70, true),
      avg_backward_case("3-d ceil_mode, exclude pad", {1, 1, 3, 4, 5}, ceil_3d, 71, false),
      avg_backward_case("1x1 input, 1x1 kernel", {1, 1, 1, 1}, unit, 72, true),
      avg_backward_case("empty batch", {0, 2, 4, 4}, k2, 73, true),
  };
}

}  // namespace plumb::testing
