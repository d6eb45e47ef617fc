#include "backends/cpu/reference/reference.h"

namespace plumb::backends::reference {
void register_composite() {}
}  // namespace plumb::backends::reference
