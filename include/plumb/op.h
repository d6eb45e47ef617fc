#pragma once
// The op record: everything about an op but its kernels. See docs/adding_an_op.md.
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/attrs.h"
#include "plumb/tensor.h"

namespace plumb {

// Fathom's taxonomy plus what plumb adds. Every op has exactly one class.
enum class OpClass : uint8_t {
  elementwise, matrix, reduction, convolution, random, optimizer, movement, communication, transfer
};
std::string_view op_class_name(OpClass c);

// Algorithmic work from shapes; one multiply-add counts 2 FLOPs (docs/cost_model.md).
struct Cost {
  double flops = 0;
  double bytes_read = 0;
  double bytes_written = 0;
  Cost& operator+=(const Cost& o) {
    flops += o.flops;
    bytes_read += o.bytes_read;
    bytes_written += o.bytes_written;
    return *this;
  }
};

struct VjpArgs {
  std::span<const Tensor> inputs;        // as seen by the forward op (detached)
  std::span<const Tensor> outputs;       // forward outputs (detached)
  std::span<const Tensor> grad_outputs;  // one per output; zeros where no gradient flowed
  const Attrs& attrs;
  std::vector<bool> needs_grad;          // per input
};

using InferFn = std::function<std::vector<TensorSpec>(std::span<const TensorSpec>, const Attrs&)>;
using CostFn = std::function<Cost(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&)>;
// Returns one gradient per input; an undefined Tensor where needs_grad is false.
using VjpFn = std::function<std::vector<Tensor>(const VjpArgs&)>;
// A composite's meaning in primitives; also the reference its fused kernels are checked against.
using DecomposeFn = std::function<std::vector<Tensor>(std::span<const Tensor>, const Attrs&)>;
// View ops produce an output that aliases the input's storage instead of running a kernel.
using ViewFn = std::function<Tensor(const Tensor& input, const TensorSpec& out, const Attrs&)>;
// Multi-output view ops (split): one output aliasing the input per spec.
using MultiViewFn =
    std::function<std::vector<Tensor>(const Tensor& input, std::span<const TensorSpec> out, const Attrs&)>;

struct OpDef {
  std::string name;
  OpClass op_class = OpClass::elementwise;
  int min_inputs = 0;
  int max_inputs = 0;  // -1: variadic
  std::function<std::unique_ptr<Attrs>()> make_attrs = [] { return std::make_unique<NoAttrs>(); };
  InferFn infer;
  CostFn cost;     // composites may leave it empty: then it is the sum of their decomposition on meta
  VjpFn vjp;       // empty means non_differentiable (must be explicit, see below)
  bool differentiable = false;
  DecomposeFn decompose;  // set for composites only
  ViewFn view;            // set for view ops only
  MultiViewFn views;      // set for multi-output view ops only (instead of view)
  int key_input = 0;      // which input's dtype selects the kernel; -1 = first output
  std::string doc;        // one line for `plumb ops`
  int id = -1;            // assigned by the registry

  bool is_composite() const { return static_cast<bool>(decompose); }
  bool is_view() const { return static_cast<bool>(view) || static_cast<bool>(views); }
};

class Dispatcher;

struct KernelArgs {
  std::span<const Tensor> inputs;
  std::span<Tensor> outputs;  // allocated by the dispatcher, contiguous
  const Attrs& attrs;
};
using KernelFn = void (*)(const KernelArgs&);

struct Kernel {
  std::string op;
  DeviceType device = DeviceType::cpu;
  std::string backend;             // "reference", "openblas", "onednn", "cuda", ...
  std::vector<DType> dtypes;       // dtypes of the key input this kernel accepts
  KernelFn fn = nullptr;
  int priority = 0;                // higher wins; reference kernels are 0
  bool strided_inputs = false;     // false: the dispatcher hands it contiguous inputs
};

// The registry of op records and kernels. Filled once, on first use.
const OpDef& op_def(std::string_view name);  // throws Error("unknown op 'x'")
const OpDef* find_op(std::string_view name);
std::vector<const OpDef*> all_ops();
std::vector<const Kernel*> kernels_for(const OpDef& op);

// Registration; used by src/ops/defs, src/ops/composite and the backends.
const OpDef& register_op(OpDef def);
void register_kernel(Kernel kernel);

}  // namespace plumb
