#pragma once
// ONNX in and out (docs/onnx.md). Export writes a captured forward graph as an ONNX model; import
// specializes a model to concrete input shapes and records it as a plumb graph by running its
// nodes through plumb's ops on the meta device, folding everything computable from constants.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plumb/graph.h"
#include "plumb/tensor.h"

namespace plumb {

struct OnnxExportOptions {
  int64_t opset = 17;
  // Leading dim of inputs and outputs becomes the symbolic "batch" (shapes derived from it follow;
  // a time-major output has it on its batch axis). Falls back to a fixed batch where a node bakes
  // the batch size in (OnnxExportReport says which).
  bool dynamic_batch = true;
};

// Capture options for a graph meant for export: composites with an ONNX form stay one node (softmax
// -> Softmax), the others are recorded as their primitives.
graph::CaptureOptions onnx_capture_options();

// Serialized ModelProto of a forward graph: parameters and constants as initializers, named inputs
// and outputs. Throws Error naming a node whose op has no ONNX form.
std::string export_onnx(const graph::Graph& g, const OnnxExportOptions& options = {});
// What an export produced. With dynamic_batch asked for, the batch may still be fixed where some node
// bakes the batch size into the graph: the reason names that node (or says the option was off).
struct OnnxExportReport {
  bool dynamic_batch = false;
  std::string fixed_batch_reason;  // empty when the batch is dynamic
  int64_t batch = 0;               // the fixed batch; 0 when dynamic
  int64_t nodes = 0, initializers = 0, parameters = 0, bytes = 0, opset = 0;
};
std::string export_onnx(const graph::Graph& g, const OnnxExportOptions& options, OnnxExportReport* report);
// The same, written to a temporary name and renamed.
void save_onnx(const graph::Graph& g, const std::string& path, const OnnxExportOptions& options = {});

struct OnnxImportOptions {
  // Concrete specs for graph inputs, by name; inputs not named here take the model's declared shape.
  std::map<std::string, TensorSpec> inputs;
  // Value for symbolic or unknown dims of inputs not named above (`plumb profile model.onnx --batch B`).
  int64_t symbolic_dim = 1;
  // Inputs whose values are fixed at import (CPU tensors): they fold like initializers and leave the
  // graph's inputs. For inputs that carry shapes, axes or sizes (Reshape's shape fed as an input).
  std::map<std::string, Tensor> values;
};

// Parses and imports a model. Throws Error naming what is wrong: not a protobuf, no graph, an
// unsupported opset or op (with its node name), a missing input or initializer, a cycle, absurd
// dims, a node the graph cannot run.
graph::Graph import_onnx(std::string_view bytes, const OnnxImportOptions& options = {});
graph::Graph load_onnx(const std::string& path, const OnnxImportOptions& options = {});

// An import specialized to example tensors: each becomes a graph input of its spec, except those
// whose values the import needs (a Reshape's shape fed as a graph input), which are fixed
// (OnnxImportOptions::values) and the import retried. Other errors propagate unchanged.
struct OnnxFedImport {
  graph::Graph graph;
  std::vector<Tensor> inputs;      // the tensors the graph takes, in the given order
  std::vector<std::string> fixed;  // the inputs fixed at import
};
OnnxFedImport import_onnx_fed(std::string_view bytes, const std::vector<std::pair<std::string, Tensor>>& given,
                              OnnxImportOptions options = {});

// ONNX op types the importer handles (default domain), sorted.
std::vector<std::string> onnx_supported_ops();

// The graph inputs a model declares (initializers excluded), in order; -1 marks a symbolic or
// unknown dim. Throws Error when the bytes are not a model or an input is not a tensor plumb holds.
struct OnnxInputInfo {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
};
std::vector<OnnxInputInfo> onnx_model_inputs(std::string_view bytes);

// A model as a workload for the profiler (`plumb profile model.onnx`): imported once with
// `options`, each step executes the graph on seeded random inputs of its input specs (floating
// inputs standard normal, integer and bool inputs zero). Inference only.
std::unique_ptr<models::Workload> make_onnx_workload(const std::string& path, const OnnxImportOptions& options = {},
                                                      uint64_t seed = 1);

// Runs the ONNX checker (full check) on a serialized model; throws Error with its message.
void check_onnx(std::string_view bytes);

// A serialized TensorProto to a CPU tensor and back (raw_data; names kept by the caller).
Tensor tensor_from_onnx(std::string_view bytes);
std::string tensor_to_onnx(const Tensor& t, const std::string& name);

}  // namespace plumb
