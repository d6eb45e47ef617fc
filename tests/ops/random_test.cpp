// Tests of uniform, normal and bernoulli: moments of 1e5 draws, determinism per seed, independence
// of the thread split (element i always uses Philox counter offset + i), parameter errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "ops/op_def.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "plumb/thread_pool.h"
#include "test_util.h"

namespace plumb {
namespace {

using namespace test_util;
struct Moments {
  double mean = 0, var = 0, m4 = 0, min = INFINITY, max = -INFINITY;
  int64_t n = 0;
};

Moments moments(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  Moments m;
  m.n = static_cast<int64_t>(v.size());
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= m.n;
  for (double x : v) {
    const double d = (x - m.mean) * (x - m.mean);
    m.var += d;
    m.m4 += d * d;
  }
  m.var /= m.n;
  m.m4 /= m.n;
  return m;
}

// Mean and variance within 5 standard errors of the truth.
void expect_moments(const Moments& m, double mean, double var, const std::string& what) {
  const double se_mean = std::sqrt(var / m.n);
  const double se_var = std::sqrt(std::max(m.m4 - m.var * m.var, 0.0) / m.n);
  EXPECT_NEAR(m.mean, mean, 5 * se_mean) << what;
  EXPECT_NEAR(m.var, var, 5 * se_var) << what;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

RandomAttrs attrs_for(Shape shape, double a, double b, int64_t seed, int64_t offset, DType dtype) {
  RandomAttrs r;
  r.shape = std::move(shape);
  r.a = a;
  r.b = b;
  r.seed = seed;
  r.offset = offset;
  r.dtype = dtype;
  return r;
}

Tensor draw(const char* op, const RandomAttrs& a) { return dispatch1(op_def(op), {}, a); }

constexpr int64_t kN = 100000;

TEST(Random, UniformMoments) {
  manual_seed(1);
  for (DType dt : {DType::f32, DType::f64}) {
    const Moments m = moments(uniform({kN}, -2, 3, dt));
    expect_moments(m, 0.5, 25.0 / 12.0, "uniform " + std::string(dtype_name(dt)));
    EXPECT_GE(m.min, -2);
    EXPECT_LT(m.max, 3);
  }
}

TEST(Random, NormalMoments) {
  manual_seed(2);
  for (DType dt : {DType::f32, DType::f64}) {
    const Moments m = moments(normal({kN}, 2, 3, dt));
    expect_moments(m, 2, 9, "normal " + std::string(dtype_name(dt)));
    // Fourth central moment of a normal is 3 sigma^4.
    EXPECT_NEAR(m.m4 / (m.var * m.var), 3.0, 0.1);
  }
}

TEST(Random, BernoulliFrequency) {
  manual_seed(3);
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor t = bernoulli({kN}, 0.3, dt);
    const std::vector<double> v = t.to_vector<double>();
    double ones = 0;
    for (double x : v) {
      EXPECT_TRUE(x == 0 || x == 1);
      ones += x;
    }
    EXPECT_NEAR(ones / kN, 0.3, 5 * std::sqrt(0.3 * 0.7 / kN));
  }
  EXPECT_EQ(moments(bernoulli({1000}, 0.0)).max, 0);
  EXPECT_EQ(moments(bernoulli({1000}, 1.0)).min, 1);
}

TEST(Random, DeterministicPerSeedAndOffsetsDiffer) {
  manual_seed(42);
  const Tensor a = uniform({1000});
  const Tensor b = uniform({1000});  // the generator advanced: a different stream
  manual_seed(42);
  const Tensor a2 = uniform({1000});
  EXPECT_TRUE(same_bits(a, a2));
  EXPECT_FALSE(same_bits(a, b));
  manual_seed(43);
  EXPECT_FALSE(same_bits(a, uniform({1000})));
  // The generator hands out consecutive counters: a draw of 2000 is a followed by b.
  manual_seed(42);
  const Tensor ab = uniform({2000});
  EXPECT_TRUE(same_bits(copy(slice(ab, 0, 0, 1000)), a));
  EXPECT_TRUE(same_bits(copy(slice(ab, 0, 1000, 2000)), b));
}

TEST(Random, ElementIUsesCounterOffsetPlusI) {
  const int64_t seed = 77, offset = 123456;
  const Tensor u = draw("uniform", attrs_for({kN}, 0, 1, seed, offset, DType::f64));
  const Tensor z = draw("normal", attrs_for({kN}, 0, 1, seed, offset, DType::f64));
  const double* pu = u.data<double>();
  const double* pz = z.data<double>();
  for (int64_t i = 0; i < kN; ++i) {
    ASSERT_EQ(pu[i], philox_uniform_f64(seed, offset + i)) << i;
    ASSERT_EQ(pz[i], philox_normal(seed, offset + i)) << i;
  }
}

// A truncated normal element is the first of its counter's draws (counter + k * 2^48) inside [lo, hi].
TEST(Random, TruncatedNormalRedrawsOnlyOutsideValues) {
  const int64_t seed = 5, offset = 99;
  const double mean = 0.5, std = 2, lo = -1, hi = 2;
  RandomAttrs at = attrs_for({kN}, mean, std, seed, offset, DType::f64);
  at.lo = lo;
  at.hi = hi;
  const Tensor z = draw("normal", at);
  const double* pz = z.data<double>();
  int redrawn = 0;
  for (int64_t i = 0; i < kN; ++i) {
    const uint64_t c = static_cast<uint64_t>(offset + i);
    double want = mean + std * philox_normal(seed, c);
    redrawn += !(want >= lo && want <= hi);
    for (uint64_t k = 1; !(want >= lo && want <= hi); ++k) want = mean + std * philox_normal(seed, c + k * kRedrawStride);
    ASSERT_EQ(pz[i], want) << i;
    ASSERT_TRUE(pz[i] >= lo && pz[i] <= hi) << pz[i];
  }
  EXPECT_GT(redrawn, 0);  // the interval cut off some first draws
  at.lo = 8, at.hi = 9;
  try {
    draw("normal", at);
    ADD_FAILURE() << "no error for an interval holding almost no mass";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("would not converge"), std::string::npos) << e.what();
  }
}

// Running the kernel on pieces of the range (as different thread counts would split it) gives the
// same bits as one call over the whole range, which runs on the pool's threads.
TEST(Random, ThreadSplitDoesNotChangeBits) {
  for (const char* op : {"uniform", "normal", "bernoulli"}) {
    for (DType dt : {DType::f32, DType::f64}) {
      const double a = std::string(op) == "bernoulli" ? 0.4 : -1, b = 2;
      const RandomAttrs whole = attrs_for({kN}, a, b, 9, 1000, dt);
      const Tensor full = draw(op, whole);
      const Kernel* k = kernels_for(op_def(op)).at(0);
      const int64_t cuts[] = {0, 1, 4097, 33333, 65536, kN};
      for (size_t c = 0; c + 1 < std::size(cuts); ++c) {
        const int64_t n = cuts[c + 1] - cuts[c];
        RandomAttrs part = attrs_for({n}, a, b, 9, 1000 + cuts[c], dt);
        std::vector<Tensor> out{Tensor::empty({n}, dt)};
        k->fn(KernelArgs{{}, out, part});
        EXPECT_TRUE(same_bits(out[0], copy(slice(full, 0, cuts[c], cuts[c + 1]))))
            << op << " " << dtype_name(dt) << " piece " << c << " (threads: " << num_threads() << ")";
      }
    }
  }
}

TEST(Random, RecordsAndErrors) {
  for (const char* op : {"uniform", "normal", "bernoulli"}) {
    const OpDef& d = op_def(op);
    EXPECT_EQ(d.op_class, OpClass::random) << op;
    EXPECT_FALSE(d.differentiable) << op;
    EXPECT_EQ(d.key_input, -1) << op;
  }
  EXPECT_EQ(error_of([] { uniform({2}, 0, 1, DType::i32); }), "uniform: dtype must be f32 or f64, got i32");
  EXPECT_EQ(error_of([] { uniform({2}, 1, 0); }), "uniform: needs finite low <= high, got low=1, high=0");
  EXPECT_EQ(error_of([] { normal({2}, 0, -1); }), "normal: needs a finite mean and std >= 0, got mean=0, std=-1");
  EXPECT_EQ(error_of([] { bernoulli({2}, 1.5); }), "bernoulli: p must be in [0, 1], got 1.5");
  EXPECT_EQ(error_of([] { bernoulli({-1, 2}, 0.5); }), "bernoulli: shape (-1, 2) has a negative dimension");
  // Cost: the output is written once, nothing is computed or read.
  const OpDef& d = op_def("normal");
  const RandomAttrs a = attrs_for({10, 3}, 0, 1, 0, 0, DType::f64);
  const Cost c = op_cost(d, {}, d.infer({}, a), a);
  EXPECT_EQ(c.flops, 0);
  EXPECT_EQ(c.bytes_read, 0);
  EXPECT_EQ(c.bytes_written, 240);
}

TEST(Random, MetaDrawsAllocateNothingButAdvanceTheGenerator) {
  manual_seed(5);
  const Tensor m = uniform({1000, 1000}, 0, 1, DType::f32, kMeta);
  EXPECT_TRUE(m.is_meta());
  EXPECT_EQ(m.shape(), (Shape{1000, 1000}));
  EXPECT_EQ(default_generator().take(0), 1000000u);
}

}  // namespace
}  // namespace plumb
