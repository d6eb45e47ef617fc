#pragma once
// The plumb CLI: each subcommand lives in cmd_<name>.cpp and has one row in main.cpp's table.
#include <functional>

#include <CLI/CLI.hpp>

namespace plumb::cli {

// What runs after a successful parse; its value is the exit code. Throw plumb::Error on bad input:
// main prints it as one line "plumb: error: <message>" and exits 1.
using Run = std::function<int()>;
// Adds the subcommand's options to `sub` (bound to state the returned Run owns) and returns the Run.
using Setup = Run (*)(CLI::App& sub);

struct Command {
  const char* name;
  const char* help;  // one line, listed by `plumb --help`
  Setup setup;
};

Run setup_ops(CLI::App& sub);
Run setup_info(CLI::App& sub);
Run setup_train(CLI::App& sub);
Run setup_eval(CLI::App& sub);
Run setup_profile(CLI::App& sub);
Run setup_suite(CLI::App& sub);
Run setup_report(CLI::App& sub);
Run setup_calibrate(CLI::App& sub);
Run setup_graph(CLI::App& sub);
Run setup_export(CLI::App& sub);
Run setup_run(CLI::App& sub);

}  // namespace plumb::cli
