// oneDNN kernels of cpu/fast. Each op family registers from its own onednn_<family>.cpp.
#include "backends/cpu/fast/fast.h"
#include "backends/cpu/fast/onednn_common.h"

namespace plumb::backends::fast {
void register_onednn() { register_onednn_conv(); }
}  // namespace plumb::backends::fast
