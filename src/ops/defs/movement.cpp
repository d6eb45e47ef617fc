#include "ops/op_def.h"

namespace plumb::ops {
void register_movement_ops() {}
}  // namespace plumb::ops
