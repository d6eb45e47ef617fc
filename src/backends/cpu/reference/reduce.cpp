#include "backends/cpu/reference/reference.h"

namespace plumb::backends::reference {
void register_reduce() {}
}  // namespace plumb::backends::reference
