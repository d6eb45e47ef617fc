// Golden test data and comparison shared by the per-family tests (see golden_common.h).
#include "golden/golden_common.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/npy.h"
#include "plumb/ops.h"
#include "plumb/tensor.h"

namespace plumb::golden {

namespace fs = std::filesystem;

namespace {

// ---- data generation ----

bool manifest_fresh(const fs::path& manifest, const fs::path& script) {
  std::error_code ec;
  if (!fs::exists(manifest, ec)) return false;
  if (!fs::exists(script, ec)) return true;  // no script (installed tree): use what is there
  return fs::last_write_time(manifest, ec) >= fs::last_write_time(script, ec);
}

// Runs the generator when the manifest is missing or older than the script. ctest may start several
// golden processes at once: a file lock lets one generate while the others wait. Returns "" on success.
std::string prepare_golden_data() {
  const fs::path dir = PLUMB_GOLDEN_DIR, script = PLUMB_GOLDEN_SCRIPT, manifest = dir / "manifest.json";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "cannot create golden data directory " + dir.string() + ": " + ec.message();
  const int lock_fd = ::open((dir / ".generate.lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock_fd >= 0) ::flock(lock_fd, LOCK_EX);
  std::string error;
  if (!manifest_fresh(manifest, script)) {
    const std::string cmd = "/usr/bin/python3 '" + script.string() + "' '" + dir.string() + "'";
    const int rc = std::system(cmd.c_str());
    if (rc != 0 || !manifest_fresh(manifest, script)) {
      const std::string how = rc == -1          ? "could not be started"
                              : WIFEXITED(rc)   ? "exited with status " + std::to_string(WEXITSTATUS(rc))
                              : WIFSIGNALED(rc) ? "was killed by signal " + std::to_string(WTERMSIG(rc))
                                                : "failed";
      error = "golden data generation failed (`" + cmd + "` " + how +
              "): it needs Debian's python3-torch and python3-numpy for /usr/bin/python3 "
              "(scripts/setup.sh installs them)";
    }
  }
  if (lock_fd >= 0) {
    ::flock(lock_fd, LOCK_UN);
    ::close(lock_fd);
  }
  return error;
}

}  // namespace

const GoldenData& golden_data() {
  static const GoldenData data = [] {
    GoldenData d;
    d.error = prepare_golden_data();
    if (!d.error.empty()) return d;
    const fs::path dir = PLUMB_GOLDEN_DIR;
    try {
      std::ifstream in(dir / "manifest.json");
      const json manifest = json::parse(in);
      for (const json& c : manifest.at("cases")) {
        GoldenCase gc;
        gc.name = c.at("name").get<std::string>();
        gc.family = c.at("family").get<std::string>();
        gc.attrs = c.at("attrs");
        for (const auto& [key, file] : c.at("inputs").items())
          gc.inputs[key] = read_npy((dir / file.get<std::string>()).string());
        for (const auto& [key, file] : c.at("expected").items())
          gc.expected[key] = read_npy((dir / file.get<std::string>()).string());
        d.cases.push_back(std::move(gc));
      }
    } catch (const std::exception& e) {
      d.error = std::string("cannot load golden data from ") + dir.string() + ": " + e.what();
      d.cases.clear();
    }
    return d;
  }();
  return data;
}

const Tensor& need(const Inputs& in, const std::string& key) {
  auto it = in.find(key);
  if (it == in.end()) throw std::runtime_error("golden case has no input '" + key + "'");
  return it->second;
}

// A fresh autograd leaf sharing the input's storage.
Tensor leaf(const Inputs& in, const std::string& key) {
  Tensor t = need(in, key).detach();
  t.set_requires_grad(true);
  return t;
}

Shape shape_attr(const json& attrs, const char* key) { return attrs.at(key).get<Shape>(); }

// ---- comparison ----

// Empty when every element satisfies |actual - expected| <= tol * (1 + |expected|); else what is off.
std::string compare(const Tensor& actual, const Tensor& expected, DType dtype, double tol) {
  if (!actual.defined()) return "undefined tensor";
  if (actual.dtype() != dtype)
    return "dtype " + std::string(dtype_name(actual.dtype())) + ", expected " + std::string(dtype_name(dtype));
  if (actual.shape() != expected.shape())
    return "shape " + shape_str(actual.shape()) + ", expected " + shape_str(expected.shape());
  const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
  int64_t bad = 0, worst = -1;
  double worst_ratio = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double bound = tol * (1 + std::abs(e[i]));
    const double err = std::abs(a[i] - e[i]);
    if (!(err <= bound)) {  // also catches NaN
      ++bad;
      const double ratio = std::isnan(err) ? INFINITY : err / bound;
      if (worst < 0 || ratio > worst_ratio) worst = static_cast<int64_t>(i), worst_ratio = ratio;
    }
  }
  if (bad == 0) return "";
  std::ostringstream os;
  os.precision(17);
  os << bad << " of " << a.size() << " elements off (tol " << tol << "); worst at flat index " << worst
     << ": got " << a[worst] << ", expected " << e[worst];
  return os.str();
}

struct Mode {
  DType dtype;
  const char* backend;  // forced backend, or nullptr for the default choice
  double tol;
};

void run_family(const std::string& family, const Runner& runner) {
  const GoldenData& data = golden_data();
  ASSERT_TRUE(data.error.empty()) << data.error;
  int ran = 0;
  for (const GoldenCase& c : data.cases) {
    if (c.family != family) continue;
    ++ran;
    for (const Mode mode : {Mode{DType::f64, "reference", 1e-10}, Mode{DType::f32, nullptr, 1e-4}}) {
      const std::string where = c.name + " [" + std::string(dtype_name(mode.dtype)) + ", " +
                                (mode.backend ? mode.backend : "default backends") + "]";
      Inputs in;
      for (const auto& [key, t] : c.inputs) in[key] = is_floating(t.dtype()) ? cast(t, mode.dtype) : t;
      Results results;
      try {
        std::optional<BackendScope> backend;
        if (mode.backend) backend.emplace(mode.backend);
        results = runner(c, in);
      } catch (const std::exception& e) {
        ADD_FAILURE() << where << ": threw: " << e.what();
        continue;
      }
      std::map<std::string, int> checked;
      for (const auto& [label, actual] : results) {
        const std::string key = label.substr(0, label.find('@'));
        auto it = c.expected.find(key);
        if (it == c.expected.end()) {
          ADD_FAILURE() << where << ": no expected value for '" << label << "'";
          continue;
        }
        ++checked[key];
        const std::string diff = compare(actual, it->second, mode.dtype, mode.tol);
        EXPECT_TRUE(diff.empty()) << where << " " << label << ": " << diff;
      }
      for (const auto& [key, t] : c.expected)
        EXPECT_TRUE(checked.count(key)) << where << ": expected '" << key << "' was never compared";
    }
  }
  EXPECT_GT(ran, 0) << "the manifest has no '" << family << "' cases";
}

}  // namespace plumb::golden
