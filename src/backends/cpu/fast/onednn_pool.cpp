#include "backends/cpu/fast/fast.h"

namespace plumb::backends::fast {
void register_onednn_pool() {}
}  // namespace plumb::backends::fast
