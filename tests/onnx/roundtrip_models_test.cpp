// Every registered model (default variant and "modern" where there is one) through ONNX and back:
// built on the CPU (seeded), eval(), forward captured at batch 2 for export, written, checked,
// imported and executed; the outputs must equal module(x). A model exported with a dynamic batch
// also imports at batch 3 and must equal module(x) at batch 3, example by example. The VAE draws
// its latent noise in every forward: the process generator is seeded right before the capture and
// before each reference forward, so the draw starts at offset 0 and its seed survives ONNX exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "onnx/tensor_proto.h"
#include "plumb/autograd.h"
#include "plumb/error.h"
#include "plumb/graph.h"
#include "plumb/models.h"
#include "plumb/nn/module.h"
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

// The VAE draws its latent sample in every forward pass (a `normal` node).
bool samples_noise(const std::string& model) { return model == "autoenc"; }

// Seeded before each captured or reference forward, so a random op's draw starts at offset 0.
constexpr uint64_t kNoiseSeed = 4242;

// Fathom's VAE starts with an all-zero decoder, which would hide the noise from the output: such
// parameters get small normal values, so a draw that differs changes the output.
void fill_zero_parameters(nn::Module& model) {
  nn::NamedTensors all = model.named_buffers();
  for (const auto& [name, t] : model.named_parameters()) {
    bool zero = true;
    for (double v : t.to_vector<double>()) zero = zero && v == 0;
    all.emplace_back(name, zero ? mul(normal(t.shape(), 0, 1, t.dtype()), 0.05) : t);
  }
  model.load_tensors(all);
}

class ModelRoundTrip : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ModelRoundTrip, ExportImportRunMatchesTheModule) {
  const ModelCase& c = GetParam();
  const auto t0 = std::chrono::steady_clock::now();
  const models::ModelInfo& info = models::model_info(c.model);
  manual_seed(1);
  std::shared_ptr<nn::Module> model = models::build_model(c.model, c.variant);
  model->eval();
  NoGradScope no_grad;
  if (samples_noise(c.model)) fill_zero_parameters(*model);
  const Tensor x = example_input(info, 2, 7);
  manual_seed(kNoiseSeed);
  const graph::Graph g = graph::capture_forward(*model, x, onnx_capture_options());

  OnnxExportReport report;
  const std::string bytes = export_onnx(g, {}, &report);
  EXPECT_NO_THROW(check_onnx(bytes));
  // Every model maps each example to its own output (none mixes examples), so none needs a fixed batch.
  EXPECT_TRUE(report.dynamic_batch) << report.fixed_batch_reason;
  if (samples_noise(c.model)) {
    // The noise is drawn in the runtime batch's shape from the captured seed.
    int draws = 0;
    const ::onnx::ModelProto m = onnx_io::parse_model(bytes);
    for (const auto& n : m.graph().node()) {
      if (n.op_type() != "RandomNormalLike") continue;
      ++draws;
      for (const auto& a : n.attribute())
        if (a.name() == "seed") EXPECT_EQ(a.f(), static_cast<float>(kNoiseSeed));
    }
    EXPECT_EQ(draws, 1);
  }

  manual_seed(kNoiseSeed);
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
    manual_seed(kNoiseSeed);
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
