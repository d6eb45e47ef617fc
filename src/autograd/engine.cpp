// Tape recording and the backward engine. Backward ops go through the dispatcher tagged
// phase=backward with the seq of the forward op whose vjp issued them.
#include <algorithm>
#include <map>
#include <queue>
#include <unordered_map>

#include "ops/op_def.h"
#include "plumb/autograd.h"

namespace plumb {

namespace autograd {
namespace {

AutogradMeta& meta_of(const Tensor& t) {
  auto& impl = t.impl();
  if (!impl.autograd) impl.autograd = std::make_shared<AutogradMeta>();
  return *impl.autograd;
}

const AutogradMeta* meta_if(const Tensor& t) { return t.defined() ? t.impl().autograd.get() : nullptr; }

void record(const OpDef& op, const Attrs& attrs, std::span<const Tensor> inputs, std::span<Tensor> outputs,
            uint64_t seq) {
  auto node = std::make_shared<Node>();
  node->op = &op;
  node->attrs = attrs.clone();
  node->seq = seq;
  node->num_outputs = outputs.size();
  node->inputs.reserve(inputs.size());
  node->next.reserve(inputs.size());
  node->needs_grad.reserve(inputs.size());
  node->outputs.reserve(outputs.size());
  for (const Tensor& in : inputs) {
    node->inputs.push_back(in.detach());
    Edge e;
    const AutogradMeta* m = meta_if(in);
    if (m && m->grad_fn) {
      e.node = m->grad_fn;
      e.output_nr = m->output_nr;
    } else if (m && m->requires_grad) {
      e.leaf = in.impl_ptr();
    }
    node->needs_grad.push_back(e.node || e.leaf);
    node->next.push_back(std::move(e));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    node->outputs.push_back(outputs[i].detach());
    // Only floating outputs carry gradients (argmax, comparisons do not).
    if (!is_floating(outputs[i].dtype())) continue;
    AutogradMeta& m = meta_of(outputs[i]);
    m.requires_grad = true;
    m.grad_fn = node;
    m.output_nr = static_cast<int>(i);
  }
}

Tensor accumulate(const Tensor& acc, const Tensor& g) { return acc.defined() ? add(acc, g) : g; }

// Runs the engine from roots; returns grads for `capture` (keyed by impl) instead of accumulating when set.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads, bool retain_graph,
                  const std::vector<Tensor>* capture, std::vector<Tensor>* captured) {
  // Everything the engine dispatches is backward work: vjps, gradient accumulation, zero gradients
  // for unused outputs, casts to a leaf's dtype.
  PhaseScope backward_phase(Phase::backward);
  // One hash entry per reachable node (elements of an unordered_map keep their address as it grows).
  struct NodeState {
    int deps = 0;               // edges from nodes not yet run
    bool seen = false;
    std::vector<Tensor> grads;  // gradients of the node's outputs, accumulated
  };
  std::unordered_map<Node*, NodeState> state;
  state.reserve(256);
  std::vector<Node*> stack;
  std::unordered_map<const TensorImpl*, size_t> capture_index;
  if (capture)
    for (size_t i = 0; i < capture->size(); ++i) capture_index[(*capture)[i].impl_ptr().get()] = i;

  auto leaf_grad = [&](const std::shared_ptr<TensorImpl>& leaf, const Tensor& g) {
    if (capture) {
      auto it = capture_index.find(leaf.get());
      if (it != capture_index.end()) (*captured)[it->second] = accumulate((*captured)[it->second], g);
      return;
    }
    AutogradMeta& m = *leaf->autograd;
    Tensor gg = g;
    if (g.dtype() != leaf->dtype) gg = cast(g, leaf->dtype);
    m.grad = m.grad.defined() ? add(m.grad, gg) : gg;  // out-of-place: aliasing a peer's gradient is safe
  };

  for (size_t r = 0; r < roots.size(); ++r) {
    const AutogradMeta* m = meta_if(roots[r]);
    if (!m || (!m->grad_fn && !m->requires_grad))
      fail("backward: tensor ", roots[r].spec().str(), " does not require grad");
    if (!m->grad_fn) {
      leaf_grad(roots[r].impl_ptr(), root_grads[r]);
      continue;
    }
    Node* n = m->grad_fn.get();
    NodeState& s = state[n];
    s.grads.resize(n->num_outputs);
    s.grads[m->output_nr] = accumulate(s.grads[m->output_nr], root_grads[r]);
    if (!s.seen) {
      s.seen = true;
      stack.push_back(n);
    }
  }
  // Count, for every reachable node, how many edges point at it.
  std::vector<Node*> walk = stack;
  while (!walk.empty()) {
    Node* n = walk.back();
    walk.pop_back();
    for (const Edge& e : n->next) {
      if (!e.node) continue;
      NodeState& s = state[e.node.get()];
      ++s.deps;
      if (!s.seen) {
        s.seen = true;
        walk.push_back(e.node.get());
      }
    }
  }
  auto later_first = [](Node* a, Node* b) { return a->seq < b->seq; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
  for (Node* n : stack)
    if (state[n].deps == 0) ready.push(n);

  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    // This node's work, and the accumulation of the gradients it gives, belong to its forward op.
    PhaseScope phase(Phase::backward, n->seq);
    if (n->released)
      fail("backward: the graph through '", n->op->name,
           "' was already freed; call backward with retain_graph=true to run it twice");
    std::vector<Tensor>& grads = state[n].grads;
    grads.resize(n->num_outputs);
    for (size_t i = 0; i < grads.size(); ++i)
      if (!grads[i].defined()) grads[i] = Tensor::zeros(n->outputs[i].shape(), n->outputs[i].dtype(), n->outputs[i].device());
    std::vector<Tensor> input_grads;
    {
      VjpArgs args{n->inputs, n->outputs, grads, *n->attrs, n->needs_grad};
      input_grads = n->op->vjp(args);
    }
    if (input_grads.size() != n->next.size())
      fail("backward: vjp of '", n->op->name, "' returned ", input_grads.size(), " gradients for ", n->next.size(),
           " inputs");
    std::vector<Tensor>().swap(grads);  // the output gradients are no longer needed: free them now
    for (size_t i = 0; i < n->next.size(); ++i) {
      const Edge& e = n->next[i];
      if (!n->needs_grad[i]) continue;
      Tensor g = input_grads[i];
      if (!g.defined()) continue;
      if (g.shape() != n->inputs[i].shape())
        fail("backward: vjp of '", n->op->name, "' gave input ", i, " a gradient of shape ", shape_str(g.shape()),
             " for an input of shape ", shape_str(n->inputs[i].shape()));
      if (e.node) {
        std::vector<Tensor>& buf = state[e.node.get()].grads;
        buf.resize(e.node->num_outputs);
        buf[e.output_nr] = accumulate(buf[e.output_nr], g);
      } else if (e.leaf) {
        leaf_grad(e.leaf, g);
      }
    }
    for (const Edge& e : n->next)
      if (e.node && --state[e.node.get()].deps == 0) ready.push(e.node.get());
    if (!retain_graph) {
      n->inputs.clear();
      n->outputs.clear();
      n->released = true;
    }
  }
}

std::vector<Tensor> default_grads(const std::vector<Tensor>& roots, const std::vector<Tensor>& given) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < roots.size(); ++i) {
    if (i < given.size() && given[i].defined()) {
      if (given[i].shape() != roots[i].shape())
        fail("backward: gradient shape ", shape_str(given[i].shape()), " does not match output shape ",
             shape_str(roots[i].shape()));
      out.push_back(given[i]);
    } else {
      if (roots[i].numel() != 1)
        fail("backward: output of shape ", shape_str(roots[i].shape()),
             " is not a scalar; pass a gradient of the same shape");
      out.push_back(Tensor::ones(roots[i].shape(), roots[i].dtype(), roots[i].device()));
    }
  }
  return out;
}

}  // namespace

void install() { set_tape_recorder(&record); }

}  // namespace autograd

bool grad_enabled() { return grad_mode_enabled(); }
NoGradScope::NoGradScope() : prev_(grad_mode_enabled()) { set_grad_mode_enabled(false); }
NoGradScope::~NoGradScope() { set_grad_mode_enabled(prev_); }
EnableGradScope::EnableGradScope() : prev_(grad_mode_enabled()) { set_grad_mode_enabled(true); }
EnableGradScope::~EnableGradScope() { set_grad_mode_enabled(prev_); }

void backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  NoGradScope no_grad;
  std::vector<Tensor> roots{root};
  autograd::run_backward(roots, autograd::default_grads(roots, {grad}), retain_graph, nullptr, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph) {
  NoGradScope no_grad;
  for (const Tensor& in : inputs)
    if (!in.requires_grad() || in.impl().autograd->grad_fn)
      fail("grad: inputs must be leaf tensors that require grad");
  std::vector<Tensor> captured(inputs.size());
  autograd::run_backward(outputs, autograd::default_grads(outputs, grad_outputs), retain_graph, &inputs, &captured);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!captured[i].defined()) captured[i] = Tensor::zeros(inputs[i].shape(), inputs[i].dtype(), inputs[i].device());
  return captured;
}

// Tensor's autograd accessors live here, where AutogradMeta is complete.
bool Tensor::requires_grad() const {
  const auto* m = impl().autograd.get();
  return m && m->requires_grad;
}

Tensor& Tensor::set_requires_grad(bool on) {
  auto& impl = this->impl();
  if (on && !is_floating(impl.dtype))
    fail("set_requires_grad: only floating tensors can require grad, not ", dtype_name(impl.dtype));
  if (!impl.autograd) impl.autograd = std::make_shared<autograd::AutogradMeta>();
  if (impl.autograd->grad_fn && !on) fail("set_requires_grad(false) on a non-leaf tensor; use detach()");
  impl.autograd->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  const auto* m = impl().autograd.get();
  return m ? m->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) {
  auto& impl = this->impl();
  if (!impl.autograd) impl.autograd = std::make_shared<autograd::AutogradMeta>();
  impl.autograd->grad = g;
}

Tensor Tensor::detach() const {
  const auto& i = impl();
  return view_of(*this, i.shape, i.strides, i.offset);
}

}  // namespace plumb
