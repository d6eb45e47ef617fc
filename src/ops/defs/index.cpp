#include "ops/op_def.h"

namespace plumb::ops {
void register_index_ops() {}
}  // namespace plumb::ops
