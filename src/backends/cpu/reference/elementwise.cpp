#include "backends/cpu/reference/reference.h"

namespace plumb::backends::reference {
void register_elementwise() {}
}  // namespace plumb::backends::reference
