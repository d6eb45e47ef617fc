// Reference elementwise kernels, split over three translation units to keep each compile short.
#include "backends/cpu/reference/elementwise_loops.h"
#include "backends/cpu/reference/reference.h"

namespace plumb::backends::reference {
void register_elementwise() {
  elementwise::register_unary();
  elementwise::register_binary();
  elementwise::register_compare();
}
}  // namespace plumb::backends::reference
