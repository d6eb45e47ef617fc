// The op conformance harness (see harness.h). One parameterized test per registered op.
#include "harness.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <sstream>

#include "ops/op_def.h"
#include "plumb/autograd.h"
#include "plumb/random.h"

namespace plumb::testing {

namespace {
std::vector<std::pair<std::string, CaseFn>>& case_storage() {
  static std::vector<std::pair<std::string, CaseFn>> s;
  return s;
}
}  // namespace

CaseRegistrar::CaseRegistrar(const char* op, CaseFn fn) { case_storage().emplace_back(op, std::move(fn)); }
const std::vector<std::pair<std::string, CaseFn>>& all_cases() { return case_storage(); }

Tensor rand_f64(Shape shape, uint64_t seed, double lo, double hi) {
  Tensor t = Tensor::empty(std::move(shape), DType::f64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = lo + (hi - lo) * philox_uniform_f64(seed, static_cast<uint64_t>(i));
  return t;
}

Tensor rand_away_from_zero(Shape shape, uint64_t seed, double lo, double hi) {
  Tensor t = rand_f64(std::move(shape), seed, lo, hi);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (philox_uniform_f64(seed + 7919, static_cast<uint64_t>(i)) < 0.5) p[i] = -p[i];
  return t;
}

Tensor index_tensor(const std::vector<int64_t>& values, Shape shape) { return Tensor::from_vector(values, shape); }

Cost cost_of(double flops, double bytes_read, double bytes_written) { return Cost{flops, bytes_read, bytes_written}; }

namespace {

// Element-wise conversion outside the dispatcher, so test plumbing never shows up as ops.
Tensor convert(const Tensor& t, DType dtype) {
  Tensor out = Tensor::empty(t.shape(), dtype, t.device());
  for (int64_t i = 0; i < t.numel(); ++i) set_element_from_double(out, i, element_as_double(t, i));
  return out;
}

std::vector<Tensor> inputs_as(const std::vector<Tensor>& inputs, DType dtype) {
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) out.push_back(is_floating(t.dtype()) ? convert(t, dtype) : t);
  return out;
}

// Same values, non-contiguous layout: reversed strides for rank >= 2, every other element for rank 1.
Tensor noncontiguous(const Tensor& t) {
  const int64_t r = t.dim();
  if (r == 0 || t.numel() <= 1) return t;
  Tensor view;
  if (r == 1) {
    Tensor base = Tensor::zeros({2 * t.numel()}, t.dtype());
    view = Tensor::view_of(base, t.shape(), {2}, 1);
  } else {
    Shape rev(t.shape().rbegin(), t.shape().rend());
    Tensor base = Tensor::zeros(rev, t.dtype());
    Shape strides(base.strides().rbegin(), base.strides().rend());
    view = Tensor::view_of(base, t.shape(), strides, 0);
  }
  for (int64_t i = 0; i < t.numel(); ++i) set_element_from_double(view, i, element_as_double(t, i));
  return view;
}

std::vector<Tensor> run(const OpDef& op, const std::vector<Tensor>& inputs, const Attrs& attrs) {
  return dispatch(op, inputs, attrs);
}

// Returns an empty string when close, else a description of the first mismatch.
std::string compare(const Tensor& got, const Tensor& want, double atol, double rtol) {
  std::ostringstream os;
  if (got.shape() != want.shape()) {
    os << "shape " << shape_str(got.shape()) << " vs " << shape_str(want.shape());
    return os.str();
  }
  const bool exact = !is_floating(want.dtype()) || !is_floating(got.dtype());
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = element_as_double(got, i), w = element_as_double(want, i);
    if (std::isnan(g) && std::isnan(w)) continue;
    const bool ok = exact ? g == w : (std::abs(g - w) <= atol + rtol * std::abs(w) || g == w);
    if (!ok) {
      os << "element " << i << ": got " << g << ", want " << w << " (|diff| " << std::abs(g - w) << ")";
      return os.str();
    }
  }
  return "";
}

void expect_outputs_close(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double atol,
                          double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].dtype(), want[i].dtype()) << what << " output " << i;
    const std::string err = compare(got[i], want[i], atol, rtol);
    EXPECT_TRUE(err.empty()) << what << " output " << i << ": " << err;
  }
}

std::vector<int> grad_inputs_of(const OpCase& c) {
  if (!c.grad_inputs.empty()) return c.grad_inputs;
  std::vector<int> out;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    if (is_floating(c.inputs[i].dtype())) out.push_back(static_cast<int>(i));
  return out;
}

// <outputs, cotangents> summed over floating outputs.
double weighted_sum(const std::vector<Tensor>& outs, const std::vector<Tensor>& cots) {
  double s = 0;
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!cots[k].defined()) continue;
    for (int64_t i = 0; i < outs[k].numel(); ++i) s += element_as_double(outs[k], i) * element_as_double(cots[k], i);
  }
  return s;
}

// Analytic gradients through the tape vs central differences, in f64.
void check_gradients(const OpDef& op, const OpCase& c, const std::string& what, bool decompose) {
  BackendScope reference("reference");
  DecomposeScope dec(decompose);
  std::vector<Tensor> inputs = inputs_as(c.inputs, DType::f64);
  const std::vector<int> which = grad_inputs_of(c);
  if (which.empty()) return;
  std::vector<Tensor> leaves;
  for (int i : which) {
    inputs[i] = convert(inputs[i], DType::f64);
    inputs[i].set_requires_grad(true);
    leaves.push_back(inputs[i]);
  }
  std::vector<Tensor> outs = run(op, inputs, *c.attrs);
  std::vector<Tensor> cots, float_outs;
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!is_floating(outs[k].dtype()) || !outs[k].requires_grad()) {
      cots.emplace_back();
      continue;
    }
    cots.push_back(rand_f64(outs[k].shape(), 1000 + k, -1, 1));
    float_outs.push_back(outs[k]);
  }
  if (float_outs.empty()) return;
  std::vector<Tensor> grad_outs;
  for (const Tensor& t : cots)
    if (t.defined()) grad_outs.push_back(t);
  const std::vector<Tensor> analytic = grad(float_outs, leaves, grad_outs);

  NoGradScope no_grad;
  for (size_t j = 0; j < which.size(); ++j) {
    Tensor x = inputs[which[j]].detach();
    std::vector<Tensor> probe = inputs;
    for (Tensor& t : probe) t = t.detach();
    for (int64_t e = 0; e < x.numel(); ++e) {
      const double orig = element_as_double(x, e);
      set_element_from_double(x, e, orig + c.grad_step);
      const double fp = weighted_sum(run(op, probe, *c.attrs), cots);
      set_element_from_double(x, e, orig - c.grad_step);
      const double fm = weighted_sum(run(op, probe, *c.attrs), cots);
      set_element_from_double(x, e, orig);
      const double numeric = (fp - fm) / (2 * c.grad_step);
      const double got = element_as_double(analytic[j], e);
      EXPECT_NEAR(got, numeric, c.grad_tol * std::max(1.0, std::abs(numeric)))
          << what << ": d/d input " << which[j] << " element " << e;
    }
  }
}

bool has_kernel(const OpDef& op, const std::string& backend, DType dtype) {
  for (const Kernel* k : kernels_for(op))
    if (k->device == DeviceType::cpu && (backend.empty() || k->backend == backend) &&
        std::find(k->dtypes.begin(), k->dtypes.end(), dtype) != k->dtypes.end())
      return true;
  return false;
}

void run_case(const OpDef& op, const OpCase& c, int index) {
  const std::string base = op.name + " case " + std::to_string(index) + " (" + c.label + ")";
  std::vector<Tensor> ref64;
  for (DType dtype : c.dtypes) {
    const std::string what = base + " " + std::string(dtype_name(dtype));
    const std::vector<Tensor> inputs = inputs_as(c.inputs, dtype);
    std::vector<Tensor> ref;
    {
      BackendScope reference("reference");
      DecomposeScope dec(true);
      ref = run(op, inputs, *c.attrs);
    }
    if (dtype == DType::f64) ref64 = ref;
    // Lower precision agrees with the f64 reference within the case's tolerance.
    if (dtype != DType::f64 && !ref64.empty() && op.op_class != OpClass::random) {
      std::vector<Tensor> ref_as;
      for (size_t i = 0; i < ref.size(); ++i) ref_as.push_back(is_floating(ref[i].dtype()) ? convert(ref64[i], ref[i].dtype()) : ref64[i]);
      expect_outputs_close(ref, ref_as, c.atol, c.rtol, what + " vs f64");
    }
    // Every other backend (and a fused composite) against the reference.
    std::set<std::string> backends;
    for (const Kernel* k : kernels_for(op))
      if (k->device == DeviceType::cpu && k->backend != "reference" &&
          std::find(k->dtypes.begin(), k->dtypes.end(), dtype) != k->dtypes.end())
        backends.insert(k->backend);
    for (const std::string& b : backends) {
      BackendScope scope(b);
      const double tol = op.op_class == OpClass::random ? 0 : 1;
      expect_outputs_close(run(op, inputs, *c.attrs), ref, tol * c.atol, tol * c.rtol, what + " backend " + b);
    }
    // The default path (best kernel, fused composites).
    expect_outputs_close(run(op, inputs, *c.attrs), ref, c.atol, c.rtol, what + " default path");
    // Non-contiguous inputs give the same result.
    {
      std::vector<Tensor> nc;
      for (const Tensor& t : inputs) nc.push_back(noncontiguous(t));
      BackendScope reference("reference");
      DecomposeScope dec(true);
      expect_outputs_close(run(op, nc, *c.attrs), ref, c.atol * 1e-3, c.rtol * 1e-3, what + " non-contiguous");
    }
    // Meta: the same specs, no data.
    {
      std::vector<Tensor> meta;
      for (const Tensor& t : inputs) meta.push_back(Tensor::from_spec({t.shape(), t.dtype(), kMeta}));
      // Ops without inputs (random) take their device from an attribute.
      std::unique_ptr<Attrs> meta_attrs = c.attrs->clone();
      for (const auto& [name, value] : meta_attrs->list())
        if (std::holds_alternative<Device>(value)) meta_attrs->set(name, kMeta);
      const std::vector<Tensor> out = run(op, meta, *meta_attrs);
      ASSERT_EQ(out.size(), ref.size()) << what << " meta";
      for (size_t i = 0; i < out.size(); ++i) {
        EXPECT_EQ(out[i].shape(), ref[i].shape()) << what << " meta output " << i;
        EXPECT_EQ(out[i].dtype(), ref[i].dtype()) << what << " meta output " << i;
        EXPECT_TRUE(out[i].is_meta()) << what;
      }
    }
  }
  // Cost against the brute-force count, for f32 floating inputs.
  if (c.expected_cost) {
    std::vector<TensorSpec> in, out;
    for (const Tensor& t : inputs_as(c.inputs, DType::f32)) in.push_back(t.spec());
    out = op.infer(in, *c.attrs);
    const Cost got = op_cost(op, in, out, *c.attrs);
    EXPECT_DOUBLE_EQ(got.flops, c.expected_cost->flops) << base << " flops";
    EXPECT_DOUBLE_EQ(got.bytes_read, c.expected_cost->bytes_read) << base << " bytes read";
    EXPECT_DOUBLE_EQ(got.bytes_written, c.expected_cost->bytes_written) << base << " bytes written";
  }
  if (op.differentiable && c.check_grad) {
    check_gradients(op, c, base + " grad", true);
    // A fused composite's own vjp, checked at f32 against the decomposition's f64 gradient.
    if (op.is_composite() && op.vjp && has_kernel(op, "", DType::f32)) {
      std::vector<Tensor> in64 = inputs_as(c.inputs, DType::f64), in32 = inputs_as(c.inputs, DType::f32);
      std::vector<Tensor> l64, l32;
      for (int i : grad_inputs_of(c)) {
        in64[i].set_requires_grad(true);
        in32[i].set_requires_grad(true);
        l64.push_back(in64[i]);
        l32.push_back(in32[i]);
      }
      std::vector<Tensor> o64, o32;
      {
        DecomposeScope dec(true);
        o64 = run(op, in64, *c.attrs);
      }
      o32 = run(op, in32, *c.attrs);
      std::vector<Tensor> f64o, f32o, c64, c32;
      for (size_t k = 0; k < o64.size(); ++k) {
        if (!is_floating(o64[k].dtype()) || !o32[k].requires_grad() || !o64[k].requires_grad()) continue;
        f64o.push_back(o64[k]);
        f32o.push_back(o32[k]);
        c64.push_back(k == 0 ? rand_f64(o64[k].shape(), 77) : Tensor::zeros(o64[k].shape(), DType::f64));
        c32.push_back(convert(c64.back(), DType::f32));
      }
      if (!f64o.empty()) {
        const auto g64 = grad(f64o, l64, c64), g32 = grad(f32o, l32, c32);
        for (size_t j = 0; j < g64.size(); ++j) {
          const std::string err = compare(g32[j], convert(g64[j], DType::f32), c.atol * 10, c.rtol * 10);
          EXPECT_TRUE(err.empty()) << base << " fused vjp, input " << j << ": " << err;
        }
      }
    }
  }
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const OpDef* op : all_ops()) names.push_back(op->name);
  return names;
}

class Conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(Conformance, Op) {
  const OpDef& op = op_def(GetParam());
  int n = 0;
  for (const auto& [name, fn] : all_cases()) {
    if (name != op.name) continue;
    for (const OpCase& c : fn()) {
      SCOPED_TRACE(op.name + " case " + std::to_string(n) + " (" + c.label + ")");
      run_case(op, c, n++);
    }
  }
  EXPECT_GT(n, 0) << op.name << " has no conformance cases";
}

INSTANTIATE_TEST_SUITE_P(Harness, Conformance, ::testing::ValuesIn(op_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// Fails when an op lacks a class, infer, cost, reference kernel, cases, or a vjp / explicit mark.
TEST(Registry, EveryOpIsComplete) {
  std::set<std::string> with_cases;
  for (const auto& [name, fn] : all_cases()) with_cases.insert(name);
  std::vector<std::string> problems;
  for (const OpDef* op : all_ops()) {
    if (!op->infer) problems.push_back(op->name + ": no infer");
    if (!op->cost && !op->is_composite()) problems.push_back(op->name + ": no cost");
    if (op->differentiable && !op->vjp && !op->is_composite()) problems.push_back(op->name + ": differentiable without vjp");
    if (!op->differentiable && op->vjp) problems.push_back(op->name + ": has a vjp but is marked non-differentiable");
    const bool needs_kernel = !op->is_view() && !op->is_composite();
    if (needs_kernel && !has_kernel(*op, "reference", DType::f32) && !has_kernel(*op, "reference", DType::f64))
      problems.push_back(op->name + ": no cpu reference kernel");
    if (!with_cases.count(op->name)) problems.push_back(op->name + ": no conformance cases");
    const std::string cls(op_class_name(op->op_class));
    if (cls == "?") problems.push_back(op->name + ": no class");
  }
  for (const auto& [name, fn] : all_cases())
    if (!find_op(name)) problems.push_back("cases for unknown op '" + name + "'");
  std::string all;
  for (const auto& p : problems) all += "\n  " + p;
  EXPECT_TRUE(problems.empty()) << all;
}

}  // namespace
}  // namespace plumb::testing
