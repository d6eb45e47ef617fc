#pragma once
// A lock for short critical sections on the profiling path that are almost never contended.
// Unlock is a plain release store: unlike a mutex's locked instruction, it does not wait for the
// stores made inside the section (a recorded event) to leave the store buffer.
#include <atomic>
#include <thread>

namespace plumb {

class SpinLock {
 public:
  void lock() {
    while (flag_.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
  }
  void unlock() { flag_.clear(std::memory_order_release); }

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

}  // namespace plumb
