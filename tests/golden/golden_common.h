#pragma once
// Shared by the golden tests: PyTorch reference data written by scripts/make_golden.py (generated on first
// use), per-family runners and the comparison. Each case runs twice: f64 on the reference backend
// (tolerance 1e-10) and f32 on the default kernels (tolerance 1e-4).
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "plumb/tensor.h"

namespace plumb::golden {

using json = nlohmann::json;

struct GoldenCase {
  std::string name, family;
  json attrs;
  std::map<std::string, Tensor> inputs;    // f64 floats, i64 indices
  std::map<std::string, Tensor> expected;  // outputs "y"..., gradients "grad_<input>"
};

struct GoldenData {
  std::string error;  // non-empty: nothing loaded
  std::vector<GoldenCase> cases;
};

// Loads the manifest once, generating the data first when it is missing or older than the script.
const GoldenData& golden_data();

using Inputs = std::map<std::string, Tensor>;
using Results = std::vector<std::pair<std::string, Tensor>>;  // "key" or "key@variant" -> expected[key]

const Tensor& need(const Inputs& in, const std::string& key);
// A fresh autograd leaf sharing the input's storage.
Tensor leaf(const Inputs& in, const std::string& key);
Shape shape_attr(const json& attrs, const char* key);

// Empty when every element satisfies |actual - expected| <= tol * (1 + |expected|); else what is off.
std::string compare(const Tensor& actual, const Tensor& expected, DType dtype, double tol);

// plumb's answer for each expected key of a case; inputs already cast to the mode's dtype.
using Runner = std::function<Results(const GoldenCase&, const Inputs&)>;
// Runs every case of `family` in both modes and compares each result with its expected value.
void run_family(const std::string& family, const Runner& runner);

}  // namespace plumb::golden
