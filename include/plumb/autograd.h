#pragma once
// Dynamic tape: the dispatcher records a node per differentiable op whose input requires grad;
// backward() runs the vjps through the dispatcher in reverse order.
#include <cstdint>
#include <memory>
#include <vector>

#include "plumb/op.h"

namespace plumb {

bool grad_enabled();
class NoGradScope {
 public:
  NoGradScope();
  ~NoGradScope();

 private:
  bool prev_;
};
class EnableGradScope {
 public:
  EnableGradScope();
  ~EnableGradScope();

 private:
  bool prev_;
};

// Accumulates d(root)/d(leaf) into leaf.grad() for every leaf that requires grad.
// `grad` defaults to ones for a one-element root. Without retain_graph the saved tensors are freed.
void backward(const Tensor& root, const Tensor& grad = {}, bool retain_graph = false);
// Returns d(outputs)/d(inputs) without touching .grad().
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false);

namespace autograd {

struct Node;

struct Edge {
  std::shared_ptr<Node> node;                 // producer, or null for a leaf
  std::shared_ptr<TensorImpl> leaf;           // leaf tensor that accumulates, when node is null
  int output_nr = 0;
};

struct Node {
  const OpDef* op = nullptr;
  std::unique_ptr<Attrs> attrs;
  std::vector<Tensor> inputs;   // detached
  std::vector<Tensor> outputs;  // detached
  std::vector<Edge> next;       // one per input
  std::vector<bool> needs_grad;
  size_t num_outputs = 0;
  uint64_t seq = 0;
  bool released = false;  // saved tensors freed after a backward without retain_graph
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  int output_nr = 0;
};

void install();  // registers the tape recorder with the dispatcher

}  // namespace autograd
}  // namespace plumb
