#pragma once
// Helpers for writing op records (src/ops/defs, src/ops/composite). Not a public header.
#include <span>
#include <vector>

#include "plumb/dispatch.h"
#include "plumb/op.h"
#include "plumb/op_attrs.h"
#include "plumb/ops.h"

namespace plumb::ops {

template <class A>
const A& attrs_as(const Attrs& a) {
  return static_cast<const A&>(a);
}

template <class A>
std::function<std::unique_ptr<Attrs>()> attrs_factory() {
  return [] { return std::make_unique<A>(); };
}

inline double bytes_of(const TensorSpec& s) { return static_cast<double>(numel(s.shape) * dtype_size(s.dtype)); }
inline double elems_of(const TensorSpec& s) { return static_cast<double>(numel(s.shape)); }
// Reads every input once and writes every output once: the byte count of most ops.
Cost io_bytes(std::span<const TensorSpec> in, std::span<const TensorSpec> out, double flops = 0);

// Throws Error("<op>: ...") unless all inputs share one device and `count` matches.
void check_same_device(std::string_view op, std::span<const TensorSpec> in);
void check_float(std::string_view op, const TensorSpec& s, std::string_view what);
void check_same_dtype(std::string_view op, const TensorSpec& a, const TensorSpec& b);

// Single-output convenience over the dispatcher.
// The inputs are read in place (the initializer list's array lives until the call returns): no copy.
template <class A>
Tensor call(const OpDef& op, std::initializer_list<Tensor> inputs, const A& attrs) {
  return dispatch1(op, std::span<const Tensor>(inputs.begin(), inputs.size()), attrs);
}
inline Tensor call(const OpDef& op, std::initializer_list<Tensor> inputs) {
  return call(op, inputs, NoAttrs{});
}

// The cached record for a built-in op name (lookup happens once per call site).
#define PLUMB_OP(name_literal)                                    \
  ([]() -> const ::plumb::OpDef& {                                \
    static const ::plumb::OpDef& def = ::plumb::op_def(name_literal); \
    return def;                                                   \
  }())

// A scalar as a 0-d tensor of `like`'s dtype and device.
Tensor scalar_like(const Tensor& like, double value);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);

// Kernels of an op, best first (no copy).
const std::vector<const Kernel*>& kernel_list(const OpDef& op);

// Registration entry points, one per family; called once from register_all().
void register_elementwise_ops();
void register_reduce_ops();
void register_matmul_ops();
void register_conv_ops();
void register_pool_ops();
void register_movement_ops();
void register_index_ops();
void register_random_ops();
void register_optim_ops();
void register_ctc_ops();
void register_composite_ops();

}  // namespace plumb::ops

namespace plumb::backends {
void register_reference_kernels();  // cpu/reference, every family
void register_fast_kernels();       // cpu/fast: OpenBLAS, oneDNN
void register_cuda_kernels();       // cuda, or nothing without PLUMB_CUDA
}  // namespace plumb::backends
