// plumb kernels against the libraries they wrap, called directly on the same buffers:
// plumb::matmul vs cblas_sgemm, and plumb::conv vs two direct oneDNN convolution primitives (f32): one
// held to the plain nchw/oihw layouts of the user's buffers, and one created with format_tag::any that
// reorders the plain buffers into the layouts oneDNN chose and the output back (what an expert calling
// oneDNN directly on plain buffers would do). Each benchmark times all its calls inside one loop,
// rotating their order every iteration, so all see the same machine state; the counters give median
// ms of each and the ratio of plumb to the faster direct call. lenet5/... times plumb alone on the ops
// of one LeNet-5 training step, for comparing kernel changes.
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

// Times fns[0] (plumb) and the direct calls fns[1..] interleaved: iteration i calls them in the order
// i % n, i % n + 1, ... (for two calls: alternately first), so each runs equally often in every position.
// check() compares the outputs once, after one warm-up call of each. Returns each call's times, or
// nothing after reporting an error to st.
std::vector<std::vector<double>> time_interleaved(benchmark::State& st, const std::vector<std::function<void()>>& fns,
                                                  const std::function<double()>& check) {
  try {
    for (const auto& fn : fns) fn();  // warm-up: allocator pools, primitive caches, thread pools
    const double err = check();
    if (!(err <= 1e-3)) {
      const std::string msg = "plumb and direct outputs differ: max relative difference " + std::to_string(err);
      st.SkipWithError(msg.c_str());
      return {};
    }
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
    return {};
  }
  const size_t n = fns.size();
  std::vector<std::vector<double>> times(n);
  size_t first = 0;
  for (auto _ : st) {
    double total = 0;
    for (size_t j = 0; j < n; ++j) {
      const size_t f = (first + j) % n;
      const auto t0 = Clock::now();
      fns[f]();
      const double t = std::chrono::duration<double>(Clock::now() - t0).count();
      times[f].push_back(t);
      total += t;
    }
    st.SetIterationTime(total);
    first = (first + 1) % n;
  }
  return times;
}

double min_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

// Counters, all per call: plumb_ms, plain_ms (the direct call on plain layouts), best_ms (the direct call
// with layouts oneDNN chose plus reorders doing the work plumb's kernel does; conv only), best_w1_ms (the
// same with the weights reordered once at setup; conv only, informational), direct_ms = min(plain_ms,
// best_ms), ratio = plumb_ms / direct_ms; medians except *_min_ms (fastest call).
void set_counters(benchmark::State& st, double flops, const std::vector<std::vector<double>>& t) {
  if (t.empty()) return;
  const double p = median(t[0]), plain = median(t[1]);
  const double best = t.size() > 2 ? median(t[2]) : 0;
  const double direct = best > 0 ? std::min(plain, best) : plain;
  double direct_min = min_of(t[1]);
  if (t.size() > 2) direct_min = std::min(direct_min, min_of(t[2]));
  st.counters["plumb_ms"] = p * 1e3;
  st.counters["plain_ms"] = plain * 1e3;
  if (t.size() > 2) st.counters["best_ms"] = best * 1e3;
  if (t.size() > 3) st.counters["best_w1_ms"] = median(t[3]) * 1e3;
  st.counters["direct_ms"] = direct * 1e3;
  st.counters["ratio"] = p / direct;
  st.counters["plumb_min_ms"] = min_of(t[0]) * 1e3;
  st.counters["direct_min_ms"] = direct_min * 1e3;
  st.counters["plumb_GFLOPs"] = flops / p * 1e-9;
  st.counters["direct_GFLOPs"] = flops / direct * 1e-9;
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
  set_counters(st, 2.0 * s.m * s.n * s.k, time_interleaved(st, {plumb_fn, direct_fn}, check));
}

// ---- convolution: y (N, O, OH, OW) = conv(x (N, C, H, W), w (O, C, KH, KW)), no bias ----

struct ConvShape {
  const char* name;
  int64_t c, o, hw, k, stride, pad;
};

void bench_conv(benchmark::State& st, ConvShape s) {
  using dnnl::memory;
  using tag = memory::format_tag;
  const int64_t n = g_batch, oh = (s.hw + 2 * s.pad - s.k) / s.stride + 1;
  const Tensor x = random_f32({n, s.c, s.hw, s.hw}, 3), w = random_f32({s.o, s.c, s.k, s.k}, 4);
  const size_t y_numel = static_cast<size_t>(n * s.o * oh * oh);
  std::vector<float> y_plain(y_numel), y_best(y_numel), y_w1(y_numel);

  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const memory::dims xd = {n, s.c, s.hw, s.hw}, wd = {s.o, s.c, s.k, s.k}, yd = {n, s.o, oh, oh};
  const memory::desc src_md(xd, memory::data_type::f32, tag::nchw);
  const memory::desc wei_md(wd, memory::data_type::f32, tag::oihw);
  const memory::desc dst_md(yd, memory::data_type::f32, tag::nchw);
  auto make_pd = [&](const memory::desc& src, const memory::desc& wei, const memory::desc& dst) {
    const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                               src, wei, dst, {s.stride, s.stride}, {0, 0}, {s.pad, s.pad},
                                               {s.pad, s.pad});
    return dnnl::convolution_forward::primitive_desc(desc, eng);
  };

  // Direct, plain: the primitive reads and writes the user's nchw / oihw buffers.
  const auto plain_pd = make_pd(src_md, wei_md, dst_md);
  const dnnl::convolution_forward plain_prim(plain_pd);
  memory src_mem(src_md, eng, x.raw_data()), wei_mem(wei_md, eng, w.raw_data());
  memory y_plain_mem(dst_md, eng, y_plain.data()), y_best_mem(dst_md, eng, y_best.data()),
      y_w1_mem(dst_md, eng, y_w1.data());
  const std::unordered_map<int, memory> plain_args = {
      {DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_DST, y_plain_mem}};

  // Direct, best layout: format any for src, weights and dst; the user's buffers stay plain, so each
  // operand whose chosen layout differs goes through a reorder (primitives and buffers made once, here).
  const memory::desc any_src(xd, memory::data_type::f32, tag::any), any_wei(wd, memory::data_type::f32, tag::any),
      any_dst(yd, memory::data_type::f32, tag::any);
  const auto best_pd = make_pd(any_src, any_wei, any_dst);
  const dnnl::convolution_forward best_prim(best_pd);
  const bool re_src = best_pd.src_desc() != src_md, re_wei = best_pd.weights_desc() != wei_md,
             re_dst = best_pd.dst_desc() != dst_md;
  memory src_impl = re_src ? memory(best_pd.src_desc(), eng) : src_mem;
  memory wei_impl = re_wei ? memory(best_pd.weights_desc(), eng) : wei_mem;
  memory wei_once = re_wei ? memory(best_pd.weights_desc(), eng) : wei_mem;  // reordered at setup
  memory dst_impl = re_dst ? memory(best_pd.dst_desc(), eng) : y_best_mem;
  memory dst_impl_w1 = re_dst ? memory(best_pd.dst_desc(), eng) : y_w1_mem;
  dnnl::reorder src_reorder, wei_reorder, dst_reorder;
  if (re_src) src_reorder = dnnl::reorder(src_mem, src_impl);
  if (re_wei) {
    wei_reorder = dnnl::reorder(wei_mem, wei_impl);
    wei_reorder.execute(strm, wei_mem, wei_once);
    strm.wait();
  }
  if (re_dst) dst_reorder = dnnl::reorder(dst_impl, y_best_mem);
  const std::unordered_map<int, memory> best_args = {
      {DNNL_ARG_SRC, src_impl}, {DNNL_ARG_WEIGHTS, wei_impl}, {DNNL_ARG_DST, dst_impl}};
  const std::unordered_map<int, memory> w1_args = {
      {DNNL_ARG_SRC, src_impl}, {DNNL_ARG_WEIGHTS, wei_once}, {DNNL_ARG_DST, dst_impl_w1}};

  Tensor out;
  const Shape stride = {s.stride, s.stride}, padding = {s.pad, s.pad};
  auto plumb_fn = [&] { out = plumb::conv(x, w, stride, padding); };
  auto plain_fn = [&] {
    plain_prim.execute(strm, plain_args);
    strm.wait();
  };
  // Per call, the same work as plumb's oneDNN kernel (src/backends/cpu/fast/onednn_conv.cpp), which
  // reorders both inputs, the weights included, on every call, and the output back.
  auto best_fn = [&] {
    if (re_src) src_reorder.execute(strm, src_mem, src_impl);
    if (re_wei) wei_reorder.execute(strm, wei_mem, wei_impl);
    best_prim.execute(strm, best_args);
    if (re_dst) dst_reorder.execute(strm, dst_impl, y_best_mem);
    strm.wait();
  };
  // As best_fn with the weights already in the chosen layout (reordered once above): what a caller that
  // keeps constant weights pre-reordered pays. Informational; not part of the ratio.
  auto w1_fn = [&] {
    if (re_src) src_reorder.execute(strm, src_mem, src_impl);
    best_prim.execute(strm, w1_args);
    if (re_dst) dst_reorder.execute(strm, dst_impl_w1, y_w1_mem);
    strm.wait();
  };
  auto check = [&] {
    const float* o = out.data<float>();
    const int64_t count = static_cast<int64_t>(y_numel);
    return std::max({max_rel_diff(o, y_plain.data(), count), max_rel_diff(o, y_best.data(), count),
                     max_rel_diff(o, y_w1.data(), count)});
  };
  std::string reordered;
  for (const auto& [flag, name] : {std::pair{re_src, "src"}, std::pair{re_wei, "wei"}, std::pair{re_dst, "dst"}})
    if (flag) reordered += std::string(reordered.empty() ? "" : ",") + name;
  st.SetLabel(std::string("plain: ") + plain_pd.impl_info_str() + "; best: " + best_pd.impl_info_str() +
              (reordered.empty() ? " (no reorders)" : " (reorders " + reordered + ")"));
  set_counters(st, 2.0 * n * s.o * oh * oh * s.c * s.k * s.k,
               time_interleaved(st, {plumb_fn, plain_fn, best_fn, w1_fn}, check));
}

// ---- LeNet-5 training ops, plumb alone: the convolution, pooling and ReLU-backward calls of one training
// step (bench/peers' lenet5 at batch n), for comparing kernel changes; no direct call to compare with.

void bench_lenet(benchmark::State& st, int64_t n, const std::string& op) {
  const Tensor x1 = random_f32({n, 1, 28, 28}, 11), w1 = random_f32({6, 1, 5, 5}, 12);
  const Tensor y1 = random_f32({n, 6, 28, 28}, 13), p1 = random_f32({n, 6, 14, 14}, 14);
  const Tensor w2 = random_f32({16, 6, 5, 5}, 15), y2 = random_f32({n, 16, 10, 10}, 16);
  const Tensor p2 = random_f32({n, 16, 5, 5}, 17), zero = Tensor::zeros({}, plumb::DType::f32);
  const Tensor mask1 = plumb::gt(y1, zero), mask2 = plumb::gt(y2, zero);
  const std::map<std::string, std::function<Tensor()>> ops = {
      {"conv1", [&] { return plumb::conv(x1, w1, {1, 1}, {2, 2}); }},
      {"conv1_backward_weight", [&] { return plumb::conv_backward_weight(x1, y1, w1.shape(), {1, 1}, {2, 2}, {1, 1}, 1); }},
      {"relu1_backward", [&] { return plumb::where(mask1, y1, zero); }},
      {"pool1", [&] { return plumb::max_pool(y1, {2, 2}); }},
      {"pool1_backward", [&] { return plumb::max_pool_backward(y1, p1, {2, 2}, {2, 2}, {0, 0}, false); }},
      {"conv2", [&] { return plumb::conv(p1, w2); }},
      {"conv2_backward_input",
       [&] { return plumb::conv_backward_input(y2, w2, p1.shape(), {1, 1}, {0, 0}, {1, 1}, 1); }},
      {"conv2_backward_weight", [&] { return plumb::conv_backward_weight(p1, y2, w2.shape(), {1, 1}, {0, 0}, {1, 1}, 1); }},
      {"relu2_backward", [&] { return plumb::where(mask2, y2, zero); }},
      {"pool2", [&] { return plumb::max_pool(y2, {2, 2}); }},
      {"pool2_backward", [&] { return plumb::max_pool_backward(y2, p2, {2, 2}, {2, 2}, {0, 0}, false); }},
  };
  const std::function<Tensor()>& fn = ops.at(op);
  Tensor out = fn();  // warm-up: primitive caches, allocator pools
  std::vector<double> times;
  for (auto _ : st) {
    const auto t0 = Clock::now();
    out = fn();
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    times.push_back(t);
    st.SetIterationTime(t);
  }
  st.counters["plumb_ms"] = median(times) * 1e3;
  st.counters["plumb_min_ms"] = min_of(times) * 1e3;
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
      row.plain_ms = get("plain_ms");
      row.best_ms = get("best_ms");
      row.best_w1_ms = get("best_w1_ms");
      row.plumb_min_ms = get("plumb_min_ms");
      row.direct_min_ms = get("direct_min_ms");
      rows_.push_back(row);
    }
    ConsoleReporter::ReportRuns(runs);
  }

  // One line per benchmark; with --benchmark_repetitions times are medians over repetitions. `ratio` is
  // plumb over the faster (by median) of the direct calls `plain` and `best` (`vs` names it), `min-ratio`
  // the fastest plumb call over the fastest of those direct calls (steadier on a loaded machine).
  // `best-w1` (weights reordered once, at setup) is shown but not part of either ratio.
  void print_summary() const {
    if (rows_.empty()) return;
    std::vector<std::string> order;
    std::map<std::string, std::vector<const Row*>> groups;
    for (const Row& r : rows_) {
      if (!groups.count(r.name)) order.push_back(r.name);
      groups[r.name].push_back(&r);
    }
    std::printf("\nplumb vs direct library calls (median ms per call; ratio = plumb / faster of plain and best,"
                " 1.00 = parity; min-ratio = fastest plumb call / fastest plain-or-best call)\n");
    std::printf("%-34s %4s %9s %9s %9s %10s %6s %5s %9s  %s\n", "benchmark", "reps", "plumb ms", "plain ms",
                "best ms", "best-w1 ms", "ratio", "vs", "min-ratio", "direct implementations");
    auto cell = [](double v, int width) {
      char buf[32];
      if (v > 0) std::snprintf(buf, sizeof buf, "%*.3f", width, v);
      else std::snprintf(buf, sizeof buf, "%*s", width, "-");
      return std::string(buf);
    };
    for (const std::string& name : order) {
      const std::vector<const Row*>& g = groups[name];
      std::vector<double> p, plain, best, w1;
      double pmin = INFINITY, dmin = INFINITY;
      std::string error;
      for (const Row* r : g) {
        if (!r->error.empty()) {
          error = r->error;
          continue;
        }
        p.push_back(r->plumb_ms);
        plain.push_back(r->plain_ms);
        best.push_back(r->best_ms);
        w1.push_back(r->best_w1_ms);
        pmin = std::min(pmin, r->plumb_min_ms);
        dmin = std::min(dmin, r->direct_min_ms);
      }
      if (p.empty()) {
        std::printf("%-34s  skipped: %s\n", name.c_str(), error.c_str());
        continue;
      }
      const double mp = median(p), mplain = median(plain), mbest = median(best);
      if (mplain <= 0) {  // plumb alone (lenet5/...): no direct call, no ratio
        std::printf("%-34s %4zu %s %9s %9s %10s %6s %5s %9s\n", name.c_str(), p.size(), cell(mp, 9).c_str(), "-", "-",
                    "-", "-", "-", "-");
        continue;
      }
      const bool best_faster = mbest > 0 && mbest < mplain;
      const double direct = best_faster ? mbest : mplain;
      std::printf("%-34s %4zu %s %s %s %s %6.2f %5s %9.2f  %s\n", name.c_str(), p.size(), cell(mp, 9).c_str(),
                  cell(mplain, 9).c_str(), cell(mbest, 9).c_str(), cell(median(w1), 10).c_str(), mp / direct,
                  best_faster ? "best" : "plain", pmin / dmin, g.front()->label.c_str());
    }
    std::fflush(stdout);
  }

 private:
  struct Row {
    std::string name, label, error;
    double plumb_ms = 0, plain_ms = 0, best_ms = 0, best_w1_ms = 0, plumb_min_ms = 0, direct_min_ms = 0;
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

  // LeNet-5's training ops at the peer benchmark's batches.
  for (const int64_t n : {int64_t{64}, int64_t{256}})
    for (const char* op : {"conv1", "conv1_backward_weight", "relu1_backward", "pool1", "pool1_backward", "conv2",
                           "conv2_backward_input", "conv2_backward_weight", "relu2_backward", "pool2", "pool2_backward"}) {
      const std::string name = std::string("lenet5/") + op + "/n" + std::to_string(n);
      benchmark::RegisterBenchmark(name.c_str(), bench_lenet, n, std::string(op))
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }

  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
