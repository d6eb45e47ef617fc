#include "ops/op_def.h"

namespace plumb::ops {
void register_composite_ops() {}
}  // namespace plumb::ops
