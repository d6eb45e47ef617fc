#include "cli.h"
#include "plumb/error.h"

namespace plumb::cli {
Run setup_info(CLI::App& sub) {
  return [] () -> int { fail("plumb info: not available in this build"); };
}
}  // namespace plumb::cli
