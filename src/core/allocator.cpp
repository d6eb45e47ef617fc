#include "plumb/allocator.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>

#include "plumb/error.h"

namespace plumb {

namespace {

// 64-byte aligned host memory with live/peak accounting.
class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    const size_t rounded = (std::max<size_t>(nbytes, 1) + 63) & ~size_t{63};
    void* p = std::aligned_alloc(64, rounded);
    if (!p) fail("cpu allocator: out of memory allocating ", nbytes, " bytes");
    const int64_t live = live_.fetch_add(static_cast<int64_t>(nbytes)) + static_cast<int64_t>(nbytes);
    int64_t peak = peak_.load();
    while (live > peak && !peak_.compare_exchange_weak(peak, live)) {
    }
    allocs_.fetch_add(1, std::memory_order_relaxed);
    total_.fetch_add(static_cast<int64_t>(nbytes), std::memory_order_relaxed);
    return p;
  }
  void deallocate(void* ptr, size_t nbytes) override {
    std::free(ptr);
    live_.fetch_sub(static_cast<int64_t>(nbytes));
  }
  AllocatorStats stats() const override { return {live_.load(), peak_.load(), allocs_.load(), total_.load()}; }
  void reset_peak() override { peak_.store(live_.load()); }

 private:
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
