// plumb: the command-line front end. Subcommands are listed in kCommands below.
#include <charconv>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "cli.h"
#include "plumb/error.h"
#include "plumb/thread_pool.h"

#ifndef PLUMB_VERSION
#define PLUMB_VERSION "unknown"
#endif

namespace {

using plumb::cli::Command;

const Command kCommands[] = {
    {"ops", "print the op support matrix: class, gradient, kernels per device/backend", plumb::cli::setup_ops},
    {"info", "a model's parameters, FLOPs and bytes per layer, from the meta device", plumb::cli::setup_info},
    {"train", "train a model on a dataset, with progress, checkpoints and metrics", plumb::cli::setup_train},
    {"eval", "evaluate a checkpoint on a dataset's test split", plumb::cli::setup_eval},
    {"suite", "the main job: profile every workload of the suite (train and infer) and write the report", plumb::cli::setup_suite},
    {"profile", "profile a workload op by op (Fathom protocol): top ops, coverage, JSON, CSV, trace", plumb::cli::setup_profile},
    {"report", "write the characterization report (self-contained HTML) from profile JSON files", plumb::cli::setup_report},
    {"calibrate", "measure this machine's peak sgemm GFLOP/s and memory bandwidth, cached for reports", plumb::cli::setup_calibrate},
    {"graph", "capture a model's forward pass or training step as a graph: JSON and Graphviz DOT", plumb::cli::setup_graph},
    {"export", "export a model's forward graph to ONNX", plumb::cli::setup_export},
    {"run", "run an ONNX model on .npy inputs and write its outputs as .npy", plumb::cli::setup_run},
};

// Every failure is one line on stderr, so scripts can grep it.
int report(const std::string& message, int code) {
  std::string line = message;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "plumb: error: %s\n", line.c_str());
  return code;
}

bool is_command(const std::string& s) {
  for (const Command& c : kCommands)
    if (s == c.name) return true;
  return false;
}

// The first argument that is neither an option nor the value of --threads: the command name.
std::string command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads") {
      ++i;
      continue;
    }
    if (!a.starts_with("-")) return a;
  }
  return "";
}

int run_cli(int argc, char** argv) {
  CLI::App app{"plumb: a deep-learning framework built to measure deep learning", "plumb"};
  app.set_version_flag("--version", std::string("plumb ") + PLUMB_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the command
  int threads = 0;
  const CLI::Validator positive_int(
      [](std::string& s) -> std::string {
        int v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || end != s.data() + s.size() || v < 1)
          return "must be a positive integer, got '" + s + "'";
        return "";
      },
      "N>=1");
  app.add_option("--threads", threads, "intra-op threads of plumb's pool, which splits large GEMMs and convolutions (OpenBLAS and oneDNN run single-threaded inside it; default: all cores)")
      ->check(positive_int);

  std::vector<std::pair<CLI::App*, plumb::cli::Run>> commands;
  for (const Command& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    commands.emplace_back(sub, c.setup(*sub));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help or --version: printed on stdout, exit 0
  } catch (const CLI::ParseError& e) {
    const std::string word = command_word(argc, argv);
    if (app.get_subcommands().empty() && !word.empty() && !is_command(word))
      return report("unknown command '" + word + "' (run 'plumb --help' for the list)", 2);
    if (app.get_subcommands().empty() && word.empty())
      return report("no command given (run 'plumb --help' for the list)", 2);
    return report(e.what(), 2);
  }

  if (threads > 0) plumb::set_num_threads(threads);
  for (auto& [sub, run] : commands)
    if (sub->parsed()) return run();
  return report("no command given (run 'plumb --help' for the list)", 2);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_cli(argc, argv);
  } catch (const plumb::Error& e) {
    return report(e.what(), 1);
  } catch (const std::exception& e) {
    return report(e.what(), 1);
  }
}
