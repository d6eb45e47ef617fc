#pragma once
// Shared by plumb's libFuzzer targets: an exact-size allocator so ASan sees every byte, the abort
// that marks a bug, and the invariants every parsed tensor must satisfy.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "plumb/allocator.h"
#include "plumb/error.h"
#include "plumb/shape.h"
#include "plumb/tensor.h"

namespace fuzz_util {

// The target's name, prefixed to every bug report.
inline const char* g_target = "fuzz";

[[noreturn]] inline void bug(const std::string& what) {
  std::fprintf(stderr, "%s: BUG: %s\n", g_target, what.c_str());
  std::fflush(stderr);
  std::abort();
}

inline void check(bool ok, const std::string& what) {
  if (!ok) bug(what);
}

// Exact-size, uncached host allocator. plumb's CPU allocator rounds sizes up to 64-byte classes and
// caches freed blocks, so with it ASan would miss overruns into the slack and uses after free.
class ExactAllocator final : public plumb::Allocator {
 public:
  void* allocate(size_t nbytes) override {
    void* p = nullptr;
    if (posix_memalign(&p, 64, nbytes ? nbytes : 1) != 0) plumb::fail(g_target, ": out of memory");
    return p;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
  plumb::AllocatorStats stats() const override { return {}; }
  void reset_peak() override {}
};

// Installs ExactAllocator for the CPU and names the target; call from LLVMFuzzerInitialize.
inline void install(const char* target) {
  g_target = target;
  static ExactAllocator allocator;
  plumb::set_allocator(plumb::DeviceType::cpu, &allocator);
}

// A parsed tensor: defined, on the CPU, fresh row-major storage large enough, every element readable
// and bools 0 or 1. Returns the values. (Strides are compared with contiguous_strides rather than
// is_contiguous() so that empty shapes are held to the same layout.)
inline std::vector<double> check_tensor(const plumb::Tensor& t, const std::string& tag) {
  check(t.defined(), tag + " is undefined");
  check(!t.is_meta() && t.device() == plumb::kCPU, tag + " is not on the CPU");
  check(t.offset() == 0 && t.strides() == plumb::contiguous_strides(t.shape()),
        tag + " does not have row-major strides from offset 0");
  for (int64_t d : t.shape()) check(d >= 0, tag + " has a negative dimension");
  const int64_t n = t.numel();
  check(n >= 0, tag + " has a negative numel");
  check(t.nbytes() == static_cast<size_t>(n) * plumb::dtype_size(t.dtype()), tag + ": nbytes != numel * size");
  check(t.storage() && t.storage()->nbytes() >= t.nbytes(), tag + " has storage smaller than its data");
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double v = plumb::element_as_double(t, i);
    if (t.dtype() == plumb::DType::boolean)
      check(v == 0.0 || v == 1.0, tag + ": bool element " + std::to_string(i) + " is not 0 or 1");
    values[static_cast<size_t>(i)] = v;
  }
  return values;
}

}  // namespace fuzz_util
