#include "backends/cpu/reference/reference.h"

namespace plumb::backends::reference {
void register_conv() {}
}  // namespace plumb::backends::reference
