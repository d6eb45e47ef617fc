#include "backends/cpu/reference/reference.h"

namespace plumb::backends::reference {
void register_pool() {}
}  // namespace plumb::backends::reference
