#pragma once
// ONNX import internals: the per-node context converters see, and the converter table, one
// registration function per op family (import_<family>.cpp). See docs/onnx.md, "Import".
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/error.h"
#include "plumb/tensor.h"

namespace plumb::onnx_io {

class Importer;

// One node being converted. Inputs are on the working device: the CPU while the node is folded
// (every input a known constant), else the meta device, where the capture records the ops.
class NodeCtx {
 public:
  // capture: inputs on meta, ops recorded; fold: inputs are CPU constants, run off the capture;
  // dry: a fold's rehearsal on meta (off the capture) that checks its output sizes before any data.
  enum class Mode { capture, fold, dry };
  NodeCtx(Importer& importer, const ::onnx::NodeProto& node, std::string name, int64_t opset, Mode mode);

  const ::onnx::NodeProto& node() const { return node_; }
  const std::string& op_type() const { return node_.op_type(); }
  const std::string& name() const { return name_; }  // the node's name, or "<OpType>_<index>"
  int64_t opset() const { return opset_; }            // of the default domain
  Device device() const { return mode_ == Mode::fold ? kCPU : kMeta; }  // the working device

  // ---- inputs; an empty name means an absent optional input ----
  size_t input_count() const { return static_cast<size_t>(node_.input_size()); }
  bool has_input(size_t i) const;
  Tensor in(size_t i);                   // on the working device; Error when absent
  TensorSpec spec(size_t i) const;       // device-free description of input i
  const Tensor* constant(size_t i) const;  // the CPU data when input i is a known constant
  // The CPU data of input i, which must be constant: "<Op> 'name': input 'what' is not constant".
  Tensor need_constant(size_t i, std::string_view what) const;
  std::vector<int64_t> ints_of(size_t i, std::string_view what) const;  // a constant integer tensor's values

  // ---- outputs ----
  size_t output_count() const { return static_cast<size_t>(node_.output_size()); }
  // True when output i is named and read by some node or is a graph output.
  bool wants_output(size_t i) const;

  // ---- attributes ----
  const ::onnx::AttributeProto* attr(std::string_view name) const;
  bool has_attr(std::string_view name) const { return attr(name) != nullptr; }
  int64_t attr_int(std::string_view name, int64_t dflt) const;
  double attr_float(std::string_view name, double dflt) const;
  std::string attr_string(std::string_view name, std::string_view dflt) const;
  std::vector<int64_t> attr_ints(std::string_view name, std::vector<int64_t> dflt = {}) const;
  std::vector<double> attr_floats(std::string_view name) const;
  Tensor attr_tensor(std::string_view name) const;  // CPU

  // ---- tensors made by the converter ----
  Tensor scalar(double value, DType dtype);  // 0-d, on the working device
  Tensor lift(const Tensor& cpu);            // a CPU constant onto the working device
  // Runs CPU ops that compute a constant (masks, index tables) outside the capture.
  Tensor on_cpu(const std::function<Tensor()>& f);

  template <class... Args>
  [[noreturn]] void fail(const Args&... args) const {
    ::plumb::fail(op_type(), " '", name_, "': ", args...);
  }

 private:
  Importer& imp_;
  const ::onnx::NodeProto& node_;
  std::string name_;
  int64_t opset_;
  Mode mode_;
};

using Converter = std::function<std::vector<Tensor>(NodeCtx&)>;
using ConverterTable = std::map<std::string, Converter, std::less<>>;

void add_elementwise_converters(ConverterTable& t);
void add_nn_converters(ConverterTable& t);
void add_norm_converters(ConverterTable& t);
void add_shape_converters(ConverterTable& t);
void add_reduce_converters(ConverterTable& t);
void add_loss_converters(ConverterTable& t);
void add_index_converters(ConverterTable& t);
void add_resize_converters(ConverterTable& t);
void add_random_converters(ConverterTable& t);

// Random ops are never folded: each stays a node of the graph, drawn when the graph runs.
bool is_random_onnx_op(std::string_view op_type);
// ONNX `seed` -> plumb's seed (the draw starts at offset 0): a non-negative integral float is that
// integer; any other float uses its IEEE-754 bits.
uint64_t plumb_seed(float seed);

const ConverterTable& converter_table();

// Shared by converters: a value of `dtype` (float, int or bool) as a CPU 0-d tensor.
Tensor cpu_scalar(double value, DType dtype);
// ONNX axis conventions: negative counts from the end; Error naming the node when out of range.
int64_t node_axis(const NodeCtx& ctx, int64_t axis, int64_t rank, std::string_view what = "axis");
// Runs `f` on a helper thread, where graph::Capture does not record; rethrows its exception.
void run_uncaptured(const std::function<void()>& f);
// An integer (or bool) CPU tensor's values, exact for every int64 (no trip through double).
std::vector<int64_t> int_values(const Tensor& t);
// Element count over 2^31 or bytes over 16 GiB: what import rejects as absurd.
bool absurd_shape(const Shape& shape, DType dtype);
// Constants the importer materializes (folded values, index tables, masks) stay under 2 GiB each.
constexpr int64_t kMaxConstantBytes = int64_t{2} << 30;
void check_constant_size(const NodeCtx& ctx, const Shape& shape, DType dtype, std::string_view what);
// Tables a converter fills element by element (index lists, masks, interpolation weights) stay
// under 2^26 entries, so a hostile attribute cannot make the import loop for minutes.
constexpr int64_t kMaxTableEntries = int64_t{1} << 26;
void check_table_size(const NodeCtx& ctx, const Shape& shape, std::string_view what);

}  // namespace plumb::onnx_io
