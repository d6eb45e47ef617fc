// Conformance cases for conv, conv_backward_input and conv_backward_weight over one set of
// geometries: 2-D with padding, stride (with an unused remainder), groups with dilation, depthwise,
// 1x1, 1-D and 3-D. Costs are counted by walking every output element and kernel tap.
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

struct Geometry {
  std::string label;
  Shape x, w;
  Shape stride, padding, dilation;  // empty: the defaults 1, 0, 1
  int64_t groups = 1;
};

int64_t at_or(const Shape& v, size_t i, int64_t dflt) { return v.empty() ? dflt : v[i]; }

// Output size along one spatial dim, by sliding the dilated kernel over the padded input.
int64_t counted_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  int64_t count = 0;
  for (int64_t start = -p; start + (k - 1) * d <= in - 1 + p; start += s) ++count;
  return count;
}

Shape output_shape(const Geometry& g) {
  Shape y = {g.x[0], g.w[0]};
  for (size_t i = 0; i + 2 < g.w.size(); ++i)
    y.push_back(counted_out_size(g.x[2 + i], g.w[2 + i], at_or(g.stride, i, 1), at_or(g.padding, i, 0),
                                 at_or(g.dilation, i, 1)));
  return y;
}

// 2 FLOPs for every (output element, input channel of its group, kernel tap), padding taps included.
double counted_flops(const Geometry& g) {
  const Shape y = output_shape(g);
  int64_t positions = 1, taps = 1;
  for (size_t i = 2; i < y.size(); ++i) positions *= y[i];
  for (size_t i = 2; i < g.w.size(); ++i) taps *= g.w[i];
  double flops = 0;
  for (int64_t n = 0; n < y[0]; ++n)
    for (int64_t o = 0; o < y[1]; ++o)
      for (int64_t p = 0; p < positions; ++p)
        for (int64_t c = 0; c < g.w[1]; ++c)
          for (int64_t t = 0; t < taps; ++t) flops += 2;
  return flops;
}

std::vector<Geometry> geometries() {
  return {
      {"2-D, padding 1", {2, 3, 5, 5}, {4, 3, 3, 3}, {}, {1, 1}, {}, 1},
      {"2-D, stride 2 with unused remainder", {1, 2, 6, 7}, {3, 2, 3, 2}, {2, 2}, {}, {}, 1},
      {"2-D, groups 2, dilation 2, uneven padding", {2, 4, 6, 5}, {6, 2, 3, 3}, {}, {2, 1}, {2, 2}, 2},
      {"2-D depthwise", {1, 3, 5, 4}, {3, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 3},
      {"2-D 1x1", {2, 4, 3, 3}, {5, 4, 1, 1}, {}, {}, {}, 1},
      {"1-D, stride 2, padding 1, dilation 2", {2, 3, 9}, {2, 3, 3}, {2}, {1}, {2}, 1},
      {"1-D single channel", {1, 1, 4}, {1, 1, 4}, {}, {}, {}, 1},
      {"3-D, mixed stride and padding", {1, 2, 4, 4, 3}, {2, 2, 2, 3, 2}, {1, 2, 1}, {1, 0, 1}, {}, 1},
      {"3-D, groups 2", {1, 4, 3, 3, 3}, {2, 2, 2, 2, 2}, {}, {}, {}, 2},
  };
}

}  // namespace

PLUMB_OP_CASES(conv) {
  std::vector<OpCase> cases;
  uint64_t seed = 100;
  for (const Geometry& g : geometries()) {
    OpCase c;
    c.label = g.label;
    c.inputs = {rand_f64(g.x, seed), rand_f64(g.w, seed + 1)};
    seed += 2;
    ConvAttrs a;
    a.stride = g.stride;
    a.padding = g.padding;
    a.dilation = g.dilation;
    a.groups = g.groups;
    c.attrs = attrs(a);
    c.expected_cost = cost_of(counted_flops(g), f32_bytes(g.x) + f32_bytes(g.w), f32_bytes(output_shape(g)));
    cases.push_back(std::move(c));
  }
  return cases;
}

PLUMB_OP_CASES(conv_backward_input) {
  std::vector<OpCase> cases;
  uint64_t seed = 200;
  for (const Geometry& g : geometries()) {
    const Shape y = output_shape(g);
    OpCase c;
    c.label = g.label;
    c.inputs = {rand_f64(y, seed), rand_f64(g.w, seed + 1)};
    seed += 2;
    ConvBackwardAttrs a;
    a.stride = g.stride;
    a.padding = g.padding;
    a.dilation = g.dilation;
    a.groups = g.groups;
    a.result_shape = g.x;
    c.attrs = attrs(a);
    c.expected_cost = cost_of(counted_flops(g), f32_bytes(y) + f32_bytes(g.w), f32_bytes(g.x));
    cases.push_back(std::move(c));
  }
  return cases;
}

PLUMB_OP_CASES(conv_backward_weight) {
  std::vector<OpCase> cases;
  uint64_t seed = 300;
  for (const Geometry& g : geometries()) {
    const Shape y = output_shape(g);
    OpCase c;
    c.label = g.label;
    c.inputs = {rand_f64(g.x, seed), rand_f64(y, seed + 1)};
    seed += 2;
    ConvBackwardAttrs a;
    a.stride = g.stride;
    a.padding = g.padding;
    a.dilation = g.dilation;
    a.groups = g.groups;
    a.result_shape = g.w;
    c.attrs = attrs(a);
    c.expected_cost = cost_of(counted_flops(g), f32_bytes(g.x) + f32_bytes(y), f32_bytes(g.w));
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace plumb::testing
