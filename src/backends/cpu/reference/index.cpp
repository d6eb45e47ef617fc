#include "backends/cpu/reference/reference.h"

namespace plumb::backends::reference {
void register_index() {}
}  // namespace plumb::backends::reference
