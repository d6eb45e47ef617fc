#include "backends/cpu/fast/onednn_common.h"

#include <omp.h>

#include <atomic>

namespace plumb::backends::fast {

namespace {
std::atomic<int> g_threads{0};
}  // namespace

dnnl::engine& onednn_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& onednn_stream() {
  thread_local dnnl::stream stream(onednn_engine());
  apply_onednn_threads();  // every oneDNN kernel gets its stream here, so each honours --threads
  return stream;
}

void set_onednn_threads(int n) {
  g_threads.store(n > 0 ? n : 0, std::memory_order_relaxed);
  apply_onednn_threads();
}

void apply_onednn_threads() {
  const int n = g_threads.load(std::memory_order_relaxed);
  if (n > 0 && omp_get_max_threads() != n) omp_set_num_threads(n);
}

dnnl::memory::dims to_dims(const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); }

dnnl::memory wrap(const dnnl::memory::desc& md, const Tensor& t) {
  return dnnl::memory(md, onednn_engine(), t.raw_data());
}

}  // namespace plumb::backends::fast
