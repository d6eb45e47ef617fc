#include "plumb/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "plumb/error.h"

namespace plumb {

namespace {

// A fixed pool of workers; parallel_for splits [0, n) into one chunk per worker plus the caller.
class Pool {
 public:
  explicit Pool(int n) : size_(n) {  // n >= 1
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return size_; }

  void run(int64_t n, int64_t chunks, const std::function<void(int64_t, int64_t)>& fn) {
    std::unique_lock run_lock(run_mu_);  // one parallel region at a time
    {
      std::lock_guard lock(mu_);
      fn_ = &fn;
      n_ = n;
      chunks_ = chunks;
      next_.store(0);
      pending_ = chunks;
      ++generation_;
    }
    cv_.notify_all();
    work();
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    fn_ = nullptr;
    // The first exception any chunk threw is rethrown on the calling thread.
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  void work() {
    for (;;) {
      const int64_t c = next_.fetch_add(1);
      if (c >= chunks_) return;
      const int64_t begin = n_ * c / chunks_, end = n_ * (c + 1) / chunks_;
      in_parallel_ = true;
      std::exception_ptr err;
      try {
        (*fn_)(begin, end);
      } catch (...) {
        err = std::current_exception();
      }
      in_parallel_ = false;
      std::lock_guard lock(mu_);
      if (err && !error_) error_ = err;
      if (--pending_ == 0) done_cv_.notify_all();
    }
  }
  void loop(int) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      work();
    }
  }

 public:
  static thread_local bool in_parallel_;

 private:
  int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0, chunks_ = 0, pending_ = 0;
  std::atomic<int64_t> next_{0};
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};
thread_local bool Pool::in_parallel_ = false;

std::atomic<int> g_requested{0};  // before the pool starts: its size
std::atomic<int> g_active{0};     // after: the threads parallel_for uses, at most the pool's size

int default_threads() {
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

// Sized once, to the larger of the cores and the first requested count, so a later request for
// fewer threads (a thread sweep) only lowers the active count.
int start_pool_size() {
  const int requested = g_requested.load();
  g_active.store(requested > 0 ? requested : default_threads());
  return std::max(requested, default_threads());
}

Pool& pool() {
  static Pool p(start_pool_size());
  return p;
}

bool g_pool_started = false;

}  // namespace

void configure_library_threads(int n);  // OpenBLAS / oneDNN, defined in the fast backend

void set_num_threads(int n) {
  if (n < 1) fail("threads: must be at least 1, got ", n);
  if (g_pool_started) {
    if (n > pool().size())
      fail("threads: the pool was started with ", pool().size(), " threads; ", n,
           " needs the count set before the first op");
    g_active.store(n);
  } else {
    g_requested.store(n);
  }
  configure_library_threads(n);
}

int num_threads() {
  g_pool_started = true;
  pool();
  return g_active.load(std::memory_order_relaxed);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int threads = num_threads();
  const int64_t chunks = std::min<int64_t>(threads, n / grain);  // every chunk gets at least `grain`
  if (chunks <= 1 || Pool::in_parallel_) {
    fn(0, n);
    return;
  }
  pool().run(n, chunks, fn);
}

}  // namespace plumb
