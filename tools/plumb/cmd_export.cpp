// plumb export: a registry model's forward pass (eval mode) as an ONNX model. The batch dim is
// symbolic unless some node bakes the batch size in; then the export says so and why.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli.h"
#include "plumb/autograd.h"
#include "plumb/error.h"
#include "plumb/file_io.h"
#include "plumb/graph.h"
#include "plumb/models.h"
#include "plumb/nn/checkpoint.h"
#include "plumb/onnx.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "plumb/safetensors.h"

namespace plumb::cli {

namespace {

struct ExportArgs {
  std::string model, variant, output, checkpoint;
  int64_t batch = 1;
  int64_t opset = 17;
  bool fixed_batch = false;
  uint64_t seed = 1;
};

// One example batch: normal floats, or token ids above the special ids (pad, go, eos, unk) and
// below every vocabulary in the registry (bAbI's 20 words), for models fed ids.
Tensor example_input(const models::ModelInfo& info, int64_t batch) {
  Shape s{batch};
  s.insert(s.end(), info.example_shape.begin(), info.example_shape.end());
  if (info.example_dtype == DType::f32) return normal(s);
  std::vector<int64_t> ids(static_cast<size_t>(numel(s)));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = 4 + static_cast<int64_t>((i * 7919 + 13) % 16);
  return cast(Tensor::from_vector(ids, s), info.example_dtype);
}

// A plumb checkpoint ("model.<name>" tensors) or a plain safetensors file of parameter names.
void load_weights(nn::Module& model, const std::string& path) {
  try {
    const SafetensorsContents c = read_safetensors(path);
    const auto format = c.metadata.find("format");
    const bool checkpoint = format != c.metadata.end() && format->second == nn::kCheckpointFormat;
    NamedTensors named;
    for (const auto& [name, t] : c.tensors) {
      if (!checkpoint) named.emplace_back(name, t);
      else if (name.rfind("model.", 0) == 0) named.emplace_back(name.substr(6), t);
    }
    model.load_tensors(named);
  } catch (const Error& e) {
    fail("--checkpoint: ", e.what());
  }
}

int run_export(const ExportArgs& a) {
  if (a.batch < 1) fail("--batch must be positive, got ", a.batch);
  if (a.output.empty()) fail("-o/--output is required");
  const models::ModelInfo& info = models::model_info(a.model);
  manual_seed(a.seed);
  std::shared_ptr<nn::Module> model = models::build_model(a.model, a.variant);
  if (!a.checkpoint.empty()) load_weights(*model, a.checkpoint);
  model->eval();

  auto capture_at = [&](int64_t batch) {
    manual_seed(a.seed);
    const Tensor x = example_input(info, batch);
    return graph::capture_forward(*model, x, onnx_capture_options());
  };
  OnnxExportOptions options;
  options.opset = a.opset;
  options.dynamic_batch = !a.fixed_batch;
  // A batch of 1 cannot tell the batch from other size-1 dims: a dynamic export looks at batch 2.
  const int64_t look_at = options.dynamic_batch ? std::max<int64_t>(a.batch, 2) : a.batch;
  OnnxExportReport report;
  std::string bytes = export_onnx(capture_at(look_at), options, &report);
  std::string fixed_reason = report.fixed_batch_reason;
  if (options.dynamic_batch && !report.dynamic_batch && look_at != a.batch) {
    options.dynamic_batch = false;
    bytes = export_onnx(capture_at(a.batch), options, &report);
  }
  check_onnx(bytes);
  write_file_atomic(a.output, bytes);

  const std::string variant = a.variant.empty() ? info.variants.front() : a.variant;
  std::printf("%s\n", fmt::format("exported {} ({}) to {}: {} nodes, {} initializers, {} parameters, {} bytes, "
                                  "opset {}, batch {}",
                                  a.model, variant, a.output, report.nodes, report.initializers, report.parameters,
                                  report.bytes, report.opset,
                                  report.dynamic_batch ? std::string("dynamic")
                                                       : "fixed at " + std::to_string(report.batch))
                          .c_str());
  if (!a.fixed_batch && !report.dynamic_batch)
    std::printf("%s\n", fmt::format("batch fixed at {}: {}", report.batch, fixed_reason).c_str());
  return 0;
}

}  // namespace

Run setup_export(CLI::App& sub) {
  auto a = std::make_shared<ExportArgs>();
  sub.add_option("model", a->model, "model name from the registry (e.g. mlp, lenet5)")->required();
  sub.add_option("-o,--output", a->output, "the .onnx file to write")->required();
  sub.add_option("--variant", a->variant, "model variant (default: the model's first)");
  sub.add_option("--batch", a->batch, "batch of the example input (the fixed batch when one is needed)");
  sub.add_option("--opset", a->opset, "ONNX opset, 13 to 17");
  sub.add_flag("--fixed-batch", a->fixed_batch, "write concrete dims everywhere instead of a symbolic batch");
  sub.add_option("--checkpoint", a->checkpoint, "weights to export: a plumb checkpoint or a safetensors file");
  sub.add_option("--seed", a->seed, "seed for the parameters and the example input");
  return [a]() -> int { return run_export(*a); };
}

}  // namespace plumb::cli
