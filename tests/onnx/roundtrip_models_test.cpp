// Every registered model (default variant and "modern" where there is one) through ONNX and back:
// built on the CPU (seeded), eval(), forward captured at batch 2 for export, written, checked,
// imported and executed; the outputs must equal module(x). A model exported with a dynamic batch
// also imports at batch 3 and must equal module(x) at batch 3, example by example.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/error.h"
#include "plumb/graph.h"
#include "plumb/models.h"
#include "plumb/onnx.h"
#include "plumb/ops.h"
#include "plumb/random.h"

namespace plumb {
namespace {

struct ModelCase {
  std::string model, variant;
};

std::vector<ModelCase> model_cases() {
  std::vector<ModelCase> out;
  for (const std::string& name : models::model_names()) {
    const auto& variants = models::model_info(name).variants;
    out.push_back({name, variants.front()});
    if (variants.front() != "modern" && std::find(variants.begin(), variants.end(), "modern") != variants.end())
      out.push_back({name, "modern"});
  }
  return out;
}

// Normal floats, or token ids 4..19: above the special ids (pad, go, eos, unk) and inside every
// vocabulary in the registry (bAbI's is the smallest, 20 words).
Tensor example_input(const models::ModelInfo& info, int64_t batch, uint64_t seed) {
  Shape s{batch};
  s.insert(s.end(), info.example_shape.begin(), info.example_shape.end());
  manual_seed(seed);
  if (info.example_dtype != DType::i64) return normal(s);
  std::vector<int64_t> ids(static_cast<size_t>(numel(s)));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = 4 + static_cast<int64_t>((i * 7919 + seed * 31 + 13) % 16);
  return Tensor::from_vector(ids, s);
}

struct Diff {
  double max_abs = 0, max_ref = 0;
};

Diff compare(const Tensor& got, const Tensor& want) {
  Diff d;
  const std::vector<double> a = got.to_vector<double>(), b = want.to_vector<double>();
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    d.max_abs = std::max(d.max_abs, std::abs(a[i] - b[i]));
    d.max_ref = std::max(d.max_ref, std::abs(b[i]));
  }
  return d;
}

std::vector<Tensor> run_imported(const std::string& bytes, const Tensor& x) {
  OnnxImportOptions options;
  options.inputs["input"] = TensorSpec{x.shape(), x.dtype(), kCPU};
  const graph::Graph g = import_onnx(bytes, options);
  const Tensor inputs[] = {x};
  return graph::execute(g, inputs);
}

// The VAE draws its latent sample in every forward pass: a random op, which ONNX cannot express.
bool samples_noise(const std::string& model) { return model == "autoenc"; }

class ModelRoundTrip : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ModelRoundTrip, ExportImportRunMatchesTheModule) {
  const ModelCase& c = GetParam();
  const auto t0 = std::chrono::steady_clock::now();
  const models::ModelInfo& info = models::model_info(c.model);
  manual_seed(1);
  std::shared_ptr<nn::Module> model = models::build_model(c.model, c.variant);
  model->eval();
  NoGradScope no_grad;
  const Tensor x = example_input(info, 2, 7);
  const graph::Graph g = graph::capture_forward(*model, x, onnx_capture_options());

  if (samples_noise(c.model)) {
    try {
      export_onnx(g);
      FAIL() << c.model << " exported although its forward pass draws random numbers";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("random ops have no ONNX form"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("(normal"), std::string::npos) << e.what();
    }
    return;
  }

  OnnxExportReport report;
  const std::string bytes = export_onnx(g, {}, &report);
  EXPECT_NO_THROW(check_onnx(bytes));
  // Every model maps each example to its own output (none mixes examples), so none needs a fixed batch.
  EXPECT_TRUE(report.dynamic_batch) << report.fixed_batch_reason;

  const Tensor want = (*model)(x);
  const std::vector<Tensor> got = run_imported(bytes, x);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].shape(), want.shape());
  ASSERT_EQ(got[0].dtype(), want.dtype());
  const Diff d = compare(got[0], want);
  const double tol = 1e-4 * std::max(1.0, d.max_ref);
  EXPECT_LE(d.max_abs, tol) << c.model << " (" << c.variant << ")";

  std::string batch3 = "-";
  if (report.dynamic_batch) {
    const Tensor x3 = example_input(info, 3, 11);
    const Tensor want3 = (*model)(x3);
    const std::vector<Tensor> got3 = run_imported(bytes, x3);
    ASSERT_EQ(got3.size(), 1u);
    ASSERT_EQ(got3[0].shape(), want3.shape());
    const Diff d3 = compare(got3[0], want3);
    EXPECT_LE(d3.max_abs, 1e-4 * std::max(1.0, d3.max_ref)) << c.model << " (" << c.variant << ") at batch 3";
    std::ostringstream os;
    os << d3.max_abs;
    batch3 = os.str();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RecordProperty("max_abs_diff", std::to_string(d.max_abs));
  RecordProperty("max_abs_output", std::to_string(d.max_ref));
  RecordProperty("batch", report.dynamic_batch ? "dynamic" : "fixed");
  std::cout << "[roundtrip] " << c.model << " (" << c.variant << "): max|diff| " << d.max_abs << ", max|y| "
            << d.max_ref << ", batch " << (report.dynamic_batch ? "dynamic" : "fixed: " + report.fixed_batch_reason)
            << ", batch-3 max|diff| " << batch3 << ", " << report.nodes << " nodes, " << report.bytes << " bytes, "
            << seconds << " s\n";
}

INSTANTIATE_TEST_SUITE_P(AllModels, ModelRoundTrip, ::testing::ValuesIn(model_cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& p) {
                           return p.param.model + "_" + p.param.variant;
                         });

}  // namespace
}  // namespace plumb
