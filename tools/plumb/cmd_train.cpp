#include "cli.h"
#include "plumb/error.h"

namespace plumb::cli {
Run setup_train(CLI::App& sub) {
  return [] () -> int { fail("plumb train: not available in this build"); };
}
}  // namespace plumb::cli
