#include "backends/cpu/reference/reference.h"

namespace plumb::backends::reference {
void register_optim() {}
}  // namespace plumb::backends::reference
