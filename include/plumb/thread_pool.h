#pragma once
// One process-wide pool, sized once (the --threads flag, default: all cores).
#include <cstdint>
#include <functional>

namespace plumb {

// Sets plumb's intra-op thread count (OpenBLAS and oneDNN run single-threaded inside the pool, which
// splits large GEMMs and convolutions). Call before the first op;
// a later call with a different count throws Error.
void set_num_threads(int n);
int num_threads();

// Runs fn(begin, end) over [0, n) in chunks of at least `grain` (or all of n when smaller); serial when
// small or nested. The first exception a chunk throws is rethrown on the calling thread.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace plumb
