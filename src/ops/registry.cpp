// The op and kernel registry; filled once by register_all() on first use.
#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>

#include "ops/op_def.h"
#include "plumb/autograd.h"

namespace plumb {

namespace {
struct Registry {
  std::deque<OpDef> ops;  // stable addresses
  std::unordered_map<std::string, OpDef*> by_name;
  std::vector<std::vector<const Kernel*>> kernels;  // by op id, best first
  std::deque<Kernel> kernel_store;
};

Registry& raw_registry() {
  static Registry r;
  return r;
}

bool g_filling = false;

void register_all() {
  g_filling = true;
  ops::register_elementwise_ops();
  ops::register_reduce_ops();
  ops::register_matmul_ops();
  ops::register_conv_ops();
  ops::register_pool_ops();
  ops::register_movement_ops();
  ops::register_index_ops();
  ops::register_random_ops();
  ops::register_optim_ops();
  ops::register_ctc_ops();
  ops::register_composite_ops();
  backends::register_reference_kernels();
  backends::register_fast_kernels();
  backends::register_cuda_kernels();
  autograd::install();
  g_filling = false;
}

Registry& registry() {
  static std::once_flag once;
  std::call_once(once, register_all);
  return raw_registry();
}
}  // namespace

std::string_view op_class_name(OpClass c) {
  switch (c) {
    case OpClass::elementwise: return "elementwise";
    case OpClass::matrix: return "matrix";
    case OpClass::reduction: return "reduction";
    case OpClass::convolution: return "convolution";
    case OpClass::random: return "random";
    case OpClass::optimizer: return "optimizer";
    case OpClass::movement: return "movement";
    case OpClass::communication: return "communication";
    case OpClass::transfer: return "transfer";
  }
  return "?";
}

const OpDef& register_op(OpDef def) {
  Registry& r = g_filling ? raw_registry() : registry();
  if (r.by_name.count(def.name)) fail("register_op: op '", def.name, "' is registered twice");
  if (!def.infer) fail("register_op: op '", def.name, "' has no infer function");
  if (!def.cost && !def.decompose) fail("register_op: op '", def.name, "' has no cost function");
  if (def.differentiable != static_cast<bool>(def.vjp) && !(def.differentiable && def.decompose))
    fail("register_op: op '", def.name, "' must have a vjp or be marked non-differentiable");
  def.id = static_cast<int>(r.ops.size());
  r.ops.push_back(std::move(def));
  OpDef* p = &r.ops.back();
  r.by_name[p->name] = p;
  return *p;
}

void register_kernel(Kernel kernel) {
  Registry& r = g_filling ? raw_registry() : registry();
  auto it = r.by_name.find(kernel.op);
  if (it == r.by_name.end()) fail("register_kernel: unknown op '", kernel.op, "'");
  r.kernel_store.push_back(std::move(kernel));
  Kernel* k = &r.kernel_store.back();
  if (r.kernels.size() <= static_cast<size_t>(it->second->id)) r.kernels.resize(it->second->id + 1);
  auto& list = r.kernels[it->second->id];
  list.push_back(k);
  std::stable_sort(list.begin(), list.end(), [](const Kernel* a, const Kernel* b) { return a->priority > b->priority; });
}

const OpDef* find_op(std::string_view name) {
  Registry& r = registry();
  auto it = r.by_name.find(std::string(name));
  return it == r.by_name.end() ? nullptr : it->second;
}

const OpDef& op_def(std::string_view name) {
  const OpDef* d = find_op(name);
  if (!d) fail("unknown op '", name, "'");
  return *d;
}

std::vector<const OpDef*> all_ops() {
  std::vector<const OpDef*> out;
  for (const OpDef& d : registry().ops) out.push_back(&d);
  return out;
}

const std::vector<const Kernel*>& ops::kernel_list(const OpDef& op) {
  static const std::vector<const Kernel*> kNone;
  Registry& r = registry();
  return static_cast<size_t>(op.id) < r.kernels.size() ? r.kernels[op.id] : kNone;
}

std::vector<const Kernel*> kernels_for(const OpDef& op) { return ops::kernel_list(op); }

}  // namespace plumb
