// Built when PLUMB_CUDA is off: the same link surface, no kernels; cuda devices report no allocator.
#include "ops/op_def.h"

namespace plumb::backends {
void register_cuda_kernels() {}
}  // namespace plumb::backends
