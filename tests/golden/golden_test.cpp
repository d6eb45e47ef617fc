// Golden tests: plumb against PyTorch outputs and gradients written by scripts/make_golden.py.
// Each case runs twice: f64 on the reference backend (tolerance 1e-10) and f32 on the default
// kernels, i.e. the fast backends where they are registered (tolerance 1e-4).
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

namespace plumb {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct GoldenCase {
  std::string name, family;
  json attrs;
  std::map<std::string, Tensor> inputs;    // f64 floats, i64 indices
  std::map<std::string, Tensor> expected;  // outputs "y"..., gradients "grad_<input>"
};

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

struct GoldenData {
  std::string error;  // non-empty: nothing loaded
  std::vector<GoldenCase> cases;
};

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

// ---- helpers for the per-family runners ----

using Inputs = std::map<std::string, Tensor>;
using Results = std::vector<std::pair<std::string, Tensor>>;  // "key" or "key@variant" -> expected[key]

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

// ---- per-family runners: plumb's answer for each expected key ----

Results run_matmul(const GoldenCase& c, const Inputs& in) {
  Tensor a = leaf(in, "a"), b = leaf(in, "b");
  const Tensor b_op = c.attrs.at("transpose_b").get<bool>() ? transpose(b, b.dim() - 2, b.dim() - 1) : b;
  Tensor y = matmul(a, b_op);
  auto g = grad({y}, {a, b}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_a", g[0]}, {"grad_b", g[1]}};
}

Results run_conv(const GoldenCase& c, const Inputs& in) {
  const Shape stride = shape_attr(c.attrs, "stride"), padding = shape_attr(c.attrs, "padding"),
              dilation = shape_attr(c.attrs, "dilation");
  const int64_t groups = c.attrs.at("groups").get<int64_t>();
  Tensor x = leaf(in, "x"), w = leaf(in, "w");
  const Tensor& gy = need(in, "cot_y");
  Tensor y = conv(x, w, stride, padding, dilation, groups);
  auto g = grad({y}, {x, w}, {gy});
  // The backward ops called directly, as a framework user (or another vjp) would.
  Tensor gx = conv_backward_input(gy, need(in, "w"), x.shape(), stride, padding, dilation, groups);
  Tensor gw = conv_backward_weight(need(in, "x"), gy, w.shape(), stride, padding, dilation, groups);
  return {{"y", y}, {"grad_x", g[0]}, {"grad_w", g[1]}, {"grad_x@direct", gx}, {"grad_w@direct", gw}};
}

Results run_pool(const GoldenCase& c, const Inputs& in) {
  const Shape kernel = shape_attr(c.attrs, "kernel"), stride = shape_attr(c.attrs, "stride"),
              padding = shape_attr(c.attrs, "padding");
  const bool ceil_mode = c.attrs.at("ceil_mode").get<bool>();
  const bool count_include_pad = c.attrs.at("count_include_pad").get<bool>();
  Tensor x = leaf(in, "x");
  const Tensor& gy = need(in, "cot_y");
  Tensor y, direct;
  if (c.attrs.at("kind").get<std::string>() == "max") {
    y = max_pool(x, kernel, stride, padding, ceil_mode);
    direct = max_pool_backward(need(in, "x"), gy, kernel, stride, padding, ceil_mode);
  } else {
    y = avg_pool(x, kernel, stride, padding, ceil_mode, count_include_pad);
    direct = avg_pool_backward(gy, x.shape(), kernel, stride, padding, ceil_mode, count_include_pad);
  }
  auto g = grad({y}, {x}, {gy});
  return {{"y", y}, {"grad_x", g[0]}, {"grad_x@direct", direct}};
}

Results run_batch_norm(const GoldenCase& c, const Inputs& in) {
  Tensor x = leaf(in, "x"), weight = leaf(in, "weight"), bias = leaf(in, "bias");
  BatchNormResult r = batch_norm(x, weight, bias, need(in, "running_mean"), need(in, "running_var"),
                                 c.attrs.at("training").get<bool>(), c.attrs.at("eps").get<double>());
  auto g = grad({r.y}, {x, weight, bias}, {need(in, "cot_y")});
  return {{"y", r.y},           {"batch_mean", r.batch_mean}, {"batch_var", r.batch_var},
          {"grad_x", g[0]},     {"grad_weight", g[1]},        {"grad_bias", g[2]}};
}

Results run_cross_entropy(const GoldenCase& c, const Inputs& in) {
  Tensor logits = leaf(in, "logits");
  Tensor y = cross_entropy(logits, need(in, "target"), c.attrs.at("ignore_index").get<int64_t>(),
                           c.attrs.at("label_smoothing").get<double>(), c.attrs.at("reduction").get<std::string>());
  auto g = grad({y}, {logits}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_logits", g[0]}};
}

Results run_lrn(const GoldenCase& c, const Inputs& in) {
  Tensor x = leaf(in, "x");
  Tensor y = local_response_norm(x, c.attrs.at("size").get<int64_t>(), c.attrs.at("alpha").get<double>(),
                                 c.attrs.at("beta").get<double>(), c.attrs.at("k").get<double>());
  auto g = grad({y}, {x}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_x", g[0]}};
}

Results run_layer_norm(const GoldenCase& c, const Inputs& in) {
  Tensor x = leaf(in, "x"), weight = leaf(in, "weight"), bias = leaf(in, "bias");
  Tensor y = layer_norm(x, weight, bias, c.attrs.at("normalized_dims").get<int64_t>(), c.attrs.at("eps").get<double>());
  auto g = grad({y}, {x, weight, bias}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_x", g[0]}, {"grad_weight", g[1]}, {"grad_bias", g[2]}};
}

Results run_softmax(const GoldenCase& c, const Inputs& in) {
  Tensor x = leaf(in, "x");
  const int64_t axis = c.attrs.at("axis").get<int64_t>();
  Tensor y = c.attrs.at("kind").get<std::string>() == "softmax" ? softmax(x, axis) : log_softmax(x, axis);
  auto g = grad({y}, {x}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_x", g[0]}};
}

Results run_mse_loss(const GoldenCase& c, const Inputs& in) {
  Tensor a = leaf(in, "a"), b = leaf(in, "b");
  Tensor y = mse_loss(a, b, c.attrs.at("reduction").get<std::string>());
  auto g = grad({y}, {a, b}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_a", g[0]}, {"grad_b", g[1]}};
}

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

using Runner = std::function<Results(const GoldenCase&, const Inputs&)>;

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

TEST(Golden, Matmul) { run_family("matmul", run_matmul); }
TEST(Golden, Conv) { run_family("conv", run_conv); }
TEST(Golden, Pool) { run_family("pool", run_pool); }
TEST(Golden, BatchNorm) { run_family("batch_norm", run_batch_norm); }
TEST(Golden, CrossEntropy) { run_family("cross_entropy", run_cross_entropy); }
TEST(Golden, LocalResponseNorm) { run_family("lrn", run_lrn); }
TEST(Golden, LayerNorm) { run_family("layer_norm", run_layer_norm); }
TEST(Golden, Softmax) { run_family("softmax", run_softmax); }
TEST(Golden, MseLoss) { run_family("mse_loss", run_mse_loss); }

// The manifest must cover exactly the families above, so a new family in the script gets a test here.
TEST(Golden, ManifestFamiliesAreTested) {
  const GoldenData& data = golden_data();
  ASSERT_TRUE(data.error.empty()) << data.error;
  const std::vector<std::string> known = {"matmul", "conv", "pool", "batch_norm", "cross_entropy",
                                          "lrn", "layer_norm", "softmax", "mse_loss"};
  for (const GoldenCase& c : data.cases)
    EXPECT_NE(std::find(known.begin(), known.end(), c.family), known.end())
        << c.name << ": family '" << c.family << "' has no golden test";
}

}  // namespace
}  // namespace plumb
