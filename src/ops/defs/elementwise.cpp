#include "ops/op_def.h"

namespace plumb::ops {
void register_elementwise_ops() {}
}  // namespace plumb::ops
