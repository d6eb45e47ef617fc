#include "backends/cpu/fast/fast.h"
#include "ops/op_def.h"

namespace plumb::backends {
void register_fast_kernels() {
  fast::register_blas();
  fast::register_onednn();
  fast::register_onednn_pool();
  fast::register_onednn_norm();
  fast::register_native_pool();
  fast::register_onednn_rnn();
}
}  // namespace plumb::backends
