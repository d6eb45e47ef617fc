// dropout: x * bernoulli(1 - p) / (1 - p) in training; the input itself in eval mode or for p = 0.
#include <cmath>

#include "ops/composite/composite.h"
#include "plumb/random.h"

namespace plumb {

Tensor dropout(const Tensor& x, double p, bool training) {
  DropoutAttrs a;
  a.p = p;
  a.training = training;
  if (!x.defined()) fail("dropout: input is undefined");
  // Counters are reserved only when a mask is drawn, so eval mode leaves the generator untouched.
  if (training && p > 0 && p < 1) {
    Generator& g = default_generator();
    a.seed = static_cast<int64_t>(g.seed());
    a.offset = static_cast<int64_t>(g.take(static_cast<uint64_t>(x.numel())));
  }
  return ops::call(PLUMB_OP("dropout"), {x}, a);
}

namespace ops::composite {

void register_dropout_ops() {
  register_op(OpDef{
      .name = "dropout",
      .op_class = OpClass::elementwise,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<DropoutAttrs>(),
      .infer =
          [](std::span<const TensorSpec> in, const Attrs& attrs) {
            const auto& a = attrs_as<DropoutAttrs>(attrs);
            check_float("dropout", in[0], "input");
            if (!(a.p >= 0 && a.p <= 1)) fail("dropout: p must be in [0, 1], got ", a.p);
            return std::vector<TensorSpec>{in[0]};
          },
      .differentiable = true,
      // The mask element i is Philox(seed, offset + i), so a run is reproducible from the attrs alone.
      .decompose =
          [](std::span<const Tensor> in, const Attrs& attrs) {
            const auto& a = attrs_as<DropoutAttrs>(attrs);
            const Tensor& x = in[0];
            if (!a.training || a.p == 0) return std::vector<Tensor>{x};
            if (a.p == 1) return std::vector<Tensor>{mul(x, 0.0)};
            RandomAttrs r;
            r.shape = x.shape();
            r.a = 1 - a.p;
            r.seed = a.seed;
            r.offset = a.offset;
            r.dtype = x.dtype();
            r.device = x.device();
            Tensor mask = dispatch1(PLUMB_OP("bernoulli"), {}, r);
            return std::vector<Tensor>{mul(mul(x, mask), 1 / (1 - a.p))};
          },
      .doc = "zero each element with probability p and scale the rest by 1/(1-p) (training only)",
  });
}

}  // namespace ops::composite
}  // namespace plumb
