#include "backends/cpu/reference/reference.h"

namespace plumb::backends::reference {
void register_movement() {}
}  // namespace plumb::backends::reference
