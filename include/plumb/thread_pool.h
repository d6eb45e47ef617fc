#pragma once
// One process-wide pool, sized once (the --threads flag, default: all cores).
#include <cstdint>
#include <functional>

namespace plumb {

// Sets plumb's intra-op thread count (OpenBLAS and oneDNN run single-threaded inside the pool, which
// splits large GEMMs and convolutions). The pool starts with max(cores, first count) workers; later
// calls change how many of them parallel_for uses (a thread sweep), and more than the pool's size
// throws Error. Not to be called while a parallel_for runs.
void set_num_threads(int n);
int num_threads();

// Runs fn(begin, end) over [0, n) in chunks of at least `grain` (or all of n when smaller); serial when
// small or nested. The first exception a chunk throws is rethrown on the calling thread.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace plumb
