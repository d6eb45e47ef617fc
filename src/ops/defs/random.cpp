// Random ops: uniform, normal, bernoulli. No inputs; element i draws from Philox(seed, offset + i),
// so values depend only on (seed, offset), never on the thread count.
#include <cmath>
#include <limits>

#include "ops/op_def.h"
#include "plumb/random.h"

namespace plumb::ops {

namespace {

// Shared by all three: a float dtype, a non-negative shape, and the op's own parameter check.
template <class Check>
InferFn random_infer(const char* op, Check check) {
  return [op, check](std::span<const TensorSpec>, const Attrs& attrs) -> std::vector<TensorSpec> {
    const auto& a = attrs_as<RandomAttrs>(attrs);
    if (a.dtype != DType::f32 && a.dtype != DType::f64)
      fail(op, ": dtype must be f32 or f64, got ", dtype_name(a.dtype));
    for (int64_t d : a.shape)
      if (d < 0) fail(op, ": shape ", shape_str(a.shape), " has a negative dimension");
    check(a);
    return {{a.shape, a.dtype, a.device}};
  };
}

bool untruncated(const RandomAttrs& a) { return std::isinf(a.lo) && a.lo < 0 && std::isinf(a.hi) && a.hi > 0; }

// Normal(mean, std) mass inside [lo, hi].
double normal_mass(double mean, double std, double lo, double hi) {
  const auto cdf = [&](double x) { return 0.5 * std::erfc(-(x - mean) / (std * std::sqrt(2.0))); };
  return cdf(hi) - cdf(lo);
}

// Random ops do no arithmetic in the cost model; they write their output once.
Cost random_cost(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&) {
  return io_bytes(in, out);
}

Tensor draw(const OpDef& op, Shape shape, double a, double b, DType dtype, Device device,
            double lo = -std::numeric_limits<double>::infinity(), double hi = std::numeric_limits<double>::infinity()) {
  RandomAttrs attrs;
  attrs.a = a;
  attrs.b = b;
  attrs.lo = lo;
  attrs.hi = hi;
  attrs.dtype = dtype;
  attrs.device = device;
  Generator& gen = default_generator();
  attrs.seed = static_cast<int64_t>(gen.seed());
  int64_t n = 1;
  for (int64_t d : shape) n *= d < 0 ? 0 : d;  // infer rejects negative shapes
  attrs.offset = static_cast<int64_t>(gen.take(static_cast<uint64_t>(n)));
  attrs.shape = std::move(shape);
  return dispatch1(op, {}, attrs);
}

OpDef random_op(const char* name, InferFn infer, const char* doc) {
  return OpDef{
      .name = name,
      .op_class = OpClass::random,
      .min_inputs = 0,
      .max_inputs = 0,
      .make_attrs = attrs_factory<RandomAttrs>(),
      .infer = std::move(infer),
      .cost = random_cost,
      .differentiable = false,  // no inputs: nothing to differentiate
      .key_input = -1,          // the output dtype picks the kernel
      .doc = doc,
  };
}

}  // namespace
}  // namespace plumb::ops

namespace plumb {

Tensor uniform(Shape shape, double low, double high, DType dtype, Device device) {
  return ops::draw(PLUMB_OP("uniform"), std::move(shape), low, high, dtype, device);
}

Tensor normal(Shape shape, double mean, double std, DType dtype, Device device) {
  return ops::draw(PLUMB_OP("normal"), std::move(shape), mean, std, dtype, device);
}

Tensor truncated_normal(Shape shape, double mean, double std, double lo, double hi, DType dtype, Device device) {
  return ops::draw(PLUMB_OP("normal"), std::move(shape), mean, std, dtype, device, lo, hi);
}

Tensor bernoulli(Shape shape, double p, DType dtype, Device device) {
  return ops::draw(PLUMB_OP("bernoulli"), std::move(shape), p, 0.0, dtype, device);
}
}  // namespace plumb

namespace plumb::ops {

void register_random_ops() {
  register_op(random_op("uniform", random_infer("uniform", [](const RandomAttrs& a) {
                          if (!std::isfinite(a.a) || !std::isfinite(a.b) || a.a > a.b)
                            fail("uniform: needs finite low <= high, got low=", a.a, ", high=", a.b);
                          if (!untruncated(a)) fail("uniform: lo/hi truncation applies to normal only");
                        }),
                        "uniform draws in [a, b) from counter-based Philox"));
  register_op(random_op("normal", random_infer("normal", [](const RandomAttrs& a) {
                          if (!std::isfinite(a.a) || !std::isfinite(a.b) || a.b < 0)
                            fail("normal: needs a finite mean and std >= 0, got mean=", a.a, ", std=", a.b);
                          if (untruncated(a)) return;
                          if (!(a.lo < a.hi)) fail("normal: truncation needs lo < hi, got lo=", a.lo, ", hi=", a.hi);
                          // Redrawing converges only when [lo, hi] holds a fair share of the mass.
                          const double mass = a.b == 0 ? (a.a >= a.lo && a.a <= a.hi ? 1.0 : 0.0)
                                                       : normal_mass(a.a, a.b, a.lo, a.hi);
                          if (mass < 0.01)
                            fail("normal: [", a.lo, ", ", a.hi, "] holds only ", mass, " of Normal(", a.a, ", ", a.b,
                                 "), so redrawing would not converge; keep it within a few std of the mean");
                        }),
                        "normal draws with mean a and standard deviation b (Box-Muller on Philox); values "
                        "outside [lo, hi] are redrawn from counter + k * 2^48"));
  register_op(random_op("bernoulli", random_infer("bernoulli", [](const RandomAttrs& a) {
                          if (!(a.a >= 0 && a.a <= 1)) fail("bernoulli: p must be in [0, 1], got ", a.a);
                          if (!untruncated(a)) fail("bernoulli: lo/hi truncation applies to normal only");
                        }),
                        "0/1 draws in a float dtype with P(1) = a"));
}

}  // namespace plumb::ops
