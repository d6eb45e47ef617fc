// plumb kernels against the libraries they wrap, called directly on the same buffers:
// plumb::matmul vs cblas_sgemm and plumb::conv vs a oneDNN convolution primitive (plain nchw/oihw, f32).
// Each benchmark times the two alternately inside one loop (order flipped every iteration), so both
// see the same machine state; the counters give median ms of each and the plumb/direct ratio.
#include <benchmark/benchmark.h>
#include <unistd.h>
#include <cblas.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#ifdef PLUMB_BENCH_HAVE_OMP
#include <omp.h>
#endif

#include "plumb/autograd.h"
#include "plumb/ops.h"
#include "plumb/tensor.h"
#include "plumb/thread_pool.h"

namespace {

using plumb::Shape;
using plumb::Tensor;
using Clock = std::chrono::steady_clock;

int64_t g_batch = 8;  // conv batch size, --batch=N

// Deterministic values in [-1, 1) without going through plumb's random ops.
Tensor random_f32(const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape, plumb::DType::f32);
  float* p = t.data<float>();
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = static_cast<float>(static_cast<double>(s >> 40) / static_cast<double>(1ull << 24) * 2.0 - 1.0);
  }
  return t;
}

// Largest |a - b| relative to max|b|.
double max_rel_diff(const float* a, const float* b, int64_t n) {
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < n; ++i) {
    diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::abs(b[i])));
  }
  return diff / std::max(scale, 1e-30);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Times plumb_fn and direct_fn alternately; check() compares their outputs once, after the warm-up.
void run_pair(benchmark::State& st, double flops, const std::function<void()>& plumb_fn,
              const std::function<void()>& direct_fn, const std::function<double()>& check) {
  try {
    plumb_fn();  // warm-up: allocator pools, primitive caches, thread pools
    direct_fn();
    const double err = check();
    if (!(err <= 1e-3)) {
      const std::string msg = "plumb and direct outputs differ: max relative difference " + std::to_string(err);
      st.SkipWithError(msg.c_str());
      return;
    }
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
    return;
  }
  std::vector<double> tp, td;
  bool plumb_first = true;
  for (auto _ : st) {
    const auto t0 = Clock::now();
    if (plumb_first) plumb_fn(); else direct_fn();
    const auto t1 = Clock::now();
    if (plumb_first) direct_fn(); else plumb_fn();
    const auto t2 = Clock::now();
    const double first = std::chrono::duration<double>(t1 - t0).count();
    const double second = std::chrono::duration<double>(t2 - t1).count();
    tp.push_back(plumb_first ? first : second);
    td.push_back(plumb_first ? second : first);
    st.SetIterationTime(first + second);
    plumb_first = !plumb_first;
  }
  const double p = median(tp), d = median(td);
  st.counters["plumb_ms"] = p * 1e3;
  st.counters["direct_ms"] = d * 1e3;
  st.counters["ratio"] = p / d;
  st.counters["plumb_min_ms"] = *std::min_element(tp.begin(), tp.end()) * 1e3;
  st.counters["direct_min_ms"] = *std::min_element(td.begin(), td.end()) * 1e3;
  st.counters["plumb_GFLOPs"] = flops / p * 1e-9;
  st.counters["direct_GFLOPs"] = flops / d * 1e-9;
}

// ---- GEMM: C (M, N) = A (M, K) B (K, N), row-major ----

struct GemmShape {
  int64_t m, n, k;
};

void bench_gemm(benchmark::State& st, GemmShape s) {
  const Tensor a = random_f32({s.m, s.k}, 1), b = random_f32({s.k, s.n}, 2);
  std::vector<float> c(static_cast<size_t>(s.m * s.n));
  Tensor out;
  auto plumb_fn = [&] { out = plumb::matmul(a, b); };
  auto direct_fn = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(s.m), static_cast<int>(s.n),
                static_cast<int>(s.k), 1.0f, a.data<float>(), static_cast<int>(s.k), b.data<float>(),
                static_cast<int>(s.n), 0.0f, c.data(), static_cast<int>(s.n));
  };
  auto check = [&] { return max_rel_diff(out.data<float>(), c.data(), s.m * s.n); };
  st.SetLabel("openblas sgemm");
  run_pair(st, 2.0 * s.m * s.n * s.k, plumb_fn, direct_fn, check);
}

// ---- convolution: y (N, O, OH, OW) = conv(x (N, C, H, W), w (O, C, KH, KW)), no bias ----

struct ConvShape {
  const char* name;
  int64_t c, o, hw, k, stride, pad;
};

void bench_conv(benchmark::State& st, ConvShape s) {
  using dnnl::memory;
  const int64_t n = g_batch, oh = (s.hw + 2 * s.pad - s.k) / s.stride + 1;
  const Tensor x = random_f32({n, s.c, s.hw, s.hw}, 3), w = random_f32({s.o, s.c, s.k, s.k}, 4);
  std::vector<float> y(static_cast<size_t>(n * s.o * oh * oh));

  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const memory::desc src_md({n, s.c, s.hw, s.hw}, memory::data_type::f32, memory::format_tag::nchw);
  const memory::desc wei_md({s.o, s.c, s.k, s.k}, memory::data_type::f32, memory::format_tag::oihw);
  const memory::desc dst_md({n, s.o, oh, oh}, memory::data_type::f32, memory::format_tag::nchw);
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                             src_md, wei_md, dst_md, {s.stride, s.stride}, {0, 0},
                                             {s.pad, s.pad}, {s.pad, s.pad});
  const dnnl::convolution_forward::primitive_desc pd(desc, eng);
  const dnnl::convolution_forward prim(pd);
  memory src_mem(src_md, eng, x.raw_data()), wei_mem(wei_md, eng, w.raw_data()), dst_mem(dst_md, eng, y.data());
  const std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_DST, dst_mem}};

  Tensor out;
  const Shape stride = {s.stride, s.stride}, padding = {s.pad, s.pad};
  auto plumb_fn = [&] { out = plumb::conv(x, w, stride, padding); };
  auto direct_fn = [&] {
    prim.execute(strm, args);
    strm.wait();
  };
  auto check = [&] { return max_rel_diff(out.data<float>(), y.data(), static_cast<int64_t>(y.size())); };
  st.SetLabel(std::string("onednn ") + pd.impl_info_str());
  run_pair(st, 2.0 * n * s.o * oh * oh * s.c * s.k * s.k, plumb_fn, direct_fn, check);
}

// Console output plus a ratio table at the end.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  // Colors only on a terminal (a reporter passed in does not read --benchmark_color).
  SummaryReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      std::string name = r.benchmark_name();
      if (const size_t cut = name.find("/manual_time"); cut != std::string::npos) name.erase(cut);
      Row row{name, r.report_label, r.error_occurred ? r.error_message : ""};
      auto get = [&](const char* key) {
        auto it = r.counters.find(key);
        return it == r.counters.end() ? 0.0 : static_cast<double>(it->second);
      };
      row.plumb_ms = get("plumb_ms");
      row.direct_ms = get("direct_ms");
      row.ratio = get("ratio");
      row.plumb_min_ms = get("plumb_min_ms");
      row.direct_min_ms = get("direct_min_ms");
      row.plumb_gflops = get("plumb_GFLOPs");
      row.direct_gflops = get("direct_GFLOPs");
      rows_.push_back(row);
    }
    ConsoleReporter::ReportRuns(runs);
  }

  // One line per benchmark; with --benchmark_repetitions times are medians over repetitions, `ratio` is
  // their quotient and `best` the quotient of the fastest call of each (steadier on a loaded machine).
  void print_summary() const {
    if (rows_.empty()) return;
    std::vector<std::string> order;
    std::map<std::string, std::vector<const Row*>> groups;
    for (const Row& r : rows_) {
      if (!groups.count(r.name)) order.push_back(r.name);
      groups[r.name].push_back(&r);
    }
    std::printf("\nplumb vs direct library calls (median ms per call; ratio = plumb / direct, 1.00 = parity;"
                " best = fastest plumb call / fastest direct call)\n");
    std::printf("%-30s %4s %9s %9s %6s %6s %10s %11s  %s\n", "benchmark", "reps", "plumb ms", "direct ms", "ratio",
                "best", "plumb GF/s", "direct GF/s", "direct implementation");
    for (const std::string& name : order) {
      const std::vector<const Row*>& g = groups[name];
      std::vector<double> p, d, pg, dg;
      double pmin = INFINITY, dmin = INFINITY;
      std::string error;
      for (const Row* r : g) {
        if (!r->error.empty()) {
          error = r->error;
          continue;
        }
        p.push_back(r->plumb_ms);
        d.push_back(r->direct_ms);
        pmin = std::min(pmin, r->plumb_min_ms);
        dmin = std::min(dmin, r->direct_min_ms);
        pg.push_back(r->plumb_gflops);
        dg.push_back(r->direct_gflops);
      }
      if (p.empty()) {
        std::printf("%-30s  skipped: %s\n", name.c_str(), error.c_str());
        continue;
      }
      std::printf("%-30s %4zu %9.3f %9.3f %6.2f %6.2f %10.1f %11.1f  %s\n", name.c_str(), p.size(), median(p),
                  median(d), median(p) / median(d), pmin / dmin, median(pg), median(dg), g.front()->label.c_str());
    }
    std::fflush(stdout);
  }

 private:
  struct Row {
    std::string name, label, error;
    double plumb_ms = 0, direct_ms = 0, ratio = 0, plumb_min_ms = 0, direct_min_ms = 0, plumb_gflops = 0,
           direct_gflops = 0;
  };
  std::vector<Row> rows_;
};

// Removes --name=value from argv (before Google Benchmark sees it); returns value or "".
std::string take_flag(int& argc, char** argv, const char* name) {
  const std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      std::string value = argv[i] + prefix.size();
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      return value;
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  const std::string threads_flag = take_flag(argc, argv, "threads");
  const std::string batch_flag = take_flag(argc, argv, "batch");
  try {
    // plumb, OpenBLAS and oneDNN all get the same count: set_num_threads configures the libraries too.
    plumb::set_num_threads(threads_flag.empty() ? plumb::num_threads() : std::stoi(threads_flag));
    if (!batch_flag.empty()) g_batch = std::stoll(batch_flag);
    if (g_batch < 1) plumb::fail("bench_kernels: --batch must be at least 1, got ", g_batch);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_kernels: %s\n", e.what());
    return 2;
  }
  const dnnl_version_t* v = dnnl_version();
  benchmark::AddCustomContext("plumb_threads", std::to_string(plumb::num_threads()));
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
#ifdef PLUMB_BENCH_HAVE_OMP
  benchmark::AddCustomContext("omp_max_threads (oneDNN)", std::to_string(omp_get_max_threads()));
#endif
  benchmark::AddCustomContext("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                                            std::to_string(v->patch) + " (" + v->hash + ")");
  benchmark::AddCustomContext("conv_batch", std::to_string(g_batch));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // ResNet-50 GEMMs, M x N x K (e.g. 3136x64x576: a 3x3 conv on 56x56 as im2col).
  for (const GemmShape s : {GemmShape{256, 1024, 512}, GemmShape{3136, 64, 576}, GemmShape{49, 2048, 512},
                            GemmShape{1024, 1024, 1024}}) {
    const std::string name =
        "gemm/" + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
    benchmark::RegisterBenchmark(name.c_str(), bench_gemm, s)->UseManualTime()->Unit(benchmark::kMillisecond);
  }
  // ResNet-50 convolutions.
  for (const ConvShape s : {ConvShape{"res2_3x3_64", 64, 64, 56, 3, 1, 1}, ConvShape{"res3_3x3_128", 128, 128, 28, 3, 1, 1},
                            ConvShape{"res4_3x3_256", 256, 256, 14, 3, 1, 1}, ConvShape{"res2_1x1_64to256", 64, 256, 56, 1, 1, 0},
                            ConvShape{"stem_7x7_s2", 3, 64, 224, 7, 2, 3}}) {
    const std::string name = std::string("conv/") + s.name + "/n" + std::to_string(g_batch);
    benchmark::RegisterBenchmark(name.c_str(), bench_conv, s)->UseManualTime()->Unit(benchmark::kMillisecond);
  }

  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
