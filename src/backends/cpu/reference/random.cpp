#include "backends/cpu/reference/reference.h"

namespace plumb::backends::reference {
void register_random() {}
}  // namespace plumb::backends::reference
