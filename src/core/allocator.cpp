#include "plumb/allocator.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "plumb/error.h"

namespace plumb {

namespace {

// 64-byte aligned host memory with live/peak accounting. Freed blocks are cached by size class
// (four classes per power of two), so steady-state training reuses buffers instead of paying
// page faults on every large output.
class CpuAllocator final : public Allocator {
 public:
  ~CpuAllocator() override { empty_cache(); }

  void* allocate(size_t nbytes) override {
    const size_t cls = size_class(nbytes);
    void* p = nullptr;
    {
      std::lock_guard lock(mu_);
      auto it = free_.find(cls);
      if (it != free_.end() && !it->second.empty()) {
        p = it->second.back();
        it->second.pop_back();
        cached_ -= static_cast<int64_t>(cls);
      }
    }
    if (!p) {
      p = std::aligned_alloc(64, cls);
      if (!p) {
        empty_cache();
        p = std::aligned_alloc(64, cls);
      }
      if (!p) fail("cpu allocator: out of memory allocating ", nbytes, " bytes");
    }
    const int64_t live = live_.fetch_add(static_cast<int64_t>(nbytes)) + static_cast<int64_t>(nbytes);
    int64_t peak = peak_.load();
    while (live > peak && !peak_.compare_exchange_weak(peak, live)) {
    }
    allocs_.fetch_add(1, std::memory_order_relaxed);
    total_.fetch_add(static_cast<int64_t>(nbytes), std::memory_order_relaxed);
    return p;
  }

  void deallocate(void* ptr, size_t nbytes) override {
    live_.fetch_sub(static_cast<int64_t>(nbytes));
    const size_t cls = size_class(nbytes);
    std::lock_guard lock(mu_);
    if (cached_ + static_cast<int64_t>(cls) > kMaxCached) {
      std::free(ptr);
      return;
    }
    free_[cls].push_back(ptr);
    cached_ += static_cast<int64_t>(cls);
  }

  AllocatorStats stats() const override {
    std::lock_guard lock(mu_);
    return {live_.load(), peak_.load(), allocs_.load(), total_.load(), cached_};
  }
  void reset_peak() override { peak_.store(live_.load()); }

  void empty_cache() override {
    std::lock_guard lock(mu_);
    for (auto& [cls, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_ = 0;
  }

 private:
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PLUMB_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(PLUMB_ASAN)
  static constexpr int64_t kMaxCached = 0;  // let ASan see every use after free
#else
  // A quarter of physical memory, at least 2 GiB: a training step of a large model (VGG: 0.55 GB of
  // weights, and Adam writes new weights and both moments every step) must recycle its blocks rather
  // than return them to the OS and fault them in again (measured: 2.2 s of a 3.6 s VGG step).
  static inline const int64_t kMaxCached = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    const int64_t quarter = pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page / 4 : 0;
    return std::max<int64_t>(int64_t{2} << 30, quarter);
  }();
#endif

  // 64-byte granularity up to 4 KiB, then four classes per power of two (at most 25% slack).
  static size_t size_class(size_t nbytes) {
    const size_t n = std::max<size_t>(nbytes, 1);
    if (n <= 4096) return (n + 63) & ~size_t{63};
    const size_t top = std::bit_floor(n);
    const size_t step = top / 4;
    return (n + step - 1) / step * step;
  }

  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  int64_t cached_ = 0;
  std::atomic<int64_t> live_{0}, peak_{0}, allocs_{0}, total_{0};
};

std::array<Allocator*, 3>& table() {
  static CpuAllocator cpu;
  static std::array<Allocator*, 3> t = {&cpu, nullptr, nullptr};
  return t;
}

}  // namespace

Allocator& allocator_for(Device d) {
  Allocator* a = table()[static_cast<size_t>(d.type)];
  if (!a) fail("no allocator for device ", d.str(), d.type == DeviceType::cuda ? " (built without PLUMB_CUDA)" : "");
  return *a;
}

void set_allocator(DeviceType type, Allocator* allocator) { table()[static_cast<size_t>(type)] = allocator; }

}  // namespace plumb
