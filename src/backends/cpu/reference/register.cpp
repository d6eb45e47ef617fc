#include "backends/cpu/reference/reference.h"
#include "ops/op_def.h"

namespace plumb::backends {
void register_reference_kernels() {
  reference::register_elementwise();
  reference::register_reduce();
  reference::register_matmul();
  reference::register_conv();
  reference::register_pool();
  reference::register_movement();
  reference::register_index();
  reference::register_random();
  reference::register_optim();
  reference::register_ctc();
  reference::register_composite();
}
}  // namespace plumb::backends
