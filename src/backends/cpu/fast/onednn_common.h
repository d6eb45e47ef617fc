#pragma once
// Shared oneDNN state for the cpu/fast kernels: one engine, a stream per thread, the OpenMP thread
// count plumb was configured with, views of plumb buffers as dnnl::memory, and the hash of the kernels'
// primitive-cache keys. Not a public header.
#include <cstdint>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "plumb/tensor.h"

namespace plumb::backends::fast {

dnnl::engine& onednn_engine();
dnnl::stream& onednn_stream();  // one per calling thread; applies the configured thread count

// Records the thread count for oneDNN's OpenMP runtime (from set_num_threads); n < 1 keeps the default.
void set_onednn_threads(int n);
// Applies the recorded count to the calling thread; OpenMP's count is per thread, so each kernel calls it.
void apply_onednn_threads();

// Dims of a plumb shape as oneDNN dims.
dnnl::memory::dims to_dims(const Shape& s);

// A dnnl::memory over t's own buffer (no copy), described by `md`.
dnnl::memory wrap(const dnnl::memory::desc& md, const Tensor& t);

// Hash (FNV-1a) of a primitive-cache key: the integers that pick one cached primitive.
struct KeyHash {
  size_t operator()(const std::vector<int64_t>& k) const {
    size_t h = 0xcbf29ce484222325ull;
    for (int64_t v : k) h = (h ^ static_cast<size_t>(v)) * 0x100000001b3ull;
    return h;
  }
};

// Kernel registration of the oneDNN op families (onednn_<family>.cpp); register_onednn() calls them.
void register_onednn_conv();

}  // namespace plumb::backends::fast
