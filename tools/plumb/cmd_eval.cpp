#include "cli.h"
#include "plumb/error.h"

namespace plumb::cli {
Run setup_eval(CLI::App& sub) {
  return [] () -> int { fail("plumb eval: not available in this build"); };
}
}  // namespace plumb::cli
