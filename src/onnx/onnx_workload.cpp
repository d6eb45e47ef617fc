// An imported ONNX model as a workload: the profiler drives it like a native model, each step one
// execution of the imported graph on fixed seeded inputs (docs/onnx.md, `plumb profile model.onnx`).
#include <filesystem>
#include <sstream>

#include "plumb/error.h"
#include "plumb/nn/module.h"
#include "plumb/onnx.h"
#include "plumb/random.h"
#include "plumb/workload.h"

namespace plumb {

namespace {

// The profiler's module table asks for a model; an imported graph has no module tree.
class OnnxModel : public nn::Module {
 public:
  Tensor forward(const Tensor&) override { fail("an imported ONNX model runs through its graph, not forward()"); }
  std::string type_name() const override { return "OnnxModel"; }
};

class OnnxWorkload : public models::Workload {
 public:
  OnnxWorkload(const std::string& path, const OnnxImportOptions& options, uint64_t seed)
      : graph_(load_onnx(path, options)) {
    models::WorkloadOptions o;
    o.mode = models::Mode::infer;
    o.seed = seed;
    int64_t batch = 1;
    for (size_t k = 0; k < graph_.inputs.size(); ++k) {
      const TensorSpec& s = graph_.value(graph_.inputs[k]).spec;
      if (k == 0 && !s.shape.empty()) batch = s.shape[0];
      inputs_.push_back(random_input(s, seed + k));
    }
    set_identity(std::filesystem::path(path).stem().string(), {"onnx"}, o, batch);
    data_ = "synthetic";
    std::ostringstream os;
    os << describe_prefix() << ", " << graph_.nodes.size() << " nodes, " << graph_.parameter_count()
       << " parameters, synthetic data";
    describe_ = os.str();
  }

  void step() override { (void)graph::execute(graph_, inputs_); }
  nn::Module& model() override { return model_; }

 private:
  // Floating inputs standard normal (Philox, seeded), integer and bool inputs zero.
  static Tensor random_input(const TensorSpec& s, uint64_t seed) {
    Tensor t = Tensor::zeros(s.shape, s.dtype, kCPU);
    if (is_floating(s.dtype))
      for (int64_t i = 0; i < t.numel(); ++i) set_element_from_double(t, i, philox_normal(seed, static_cast<uint64_t>(i)));
    return t;
  }

  graph::Graph graph_;
  std::vector<Tensor> inputs_;
  OnnxModel model_;
};

}  // namespace

std::unique_ptr<models::Workload> make_onnx_workload(const std::string& path, const OnnxImportOptions& options,
                                                      uint64_t seed) {
  return std::make_unique<OnnxWorkload>(path, options, seed);
}

}  // namespace plumb
