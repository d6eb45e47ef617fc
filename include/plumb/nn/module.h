#pragma once
// Module tree with named parameters and buffers; calling a module pushes its name onto the module
// path the dispatcher stamps on every op, so profiles attribute ops to layers.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "plumb/tensor.h"

namespace plumb::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;

  // Runs forward() inside a ModuleScope named after this module's registered name.
  Tensor operator()(const Tensor& x);
  virtual Tensor forward(const Tensor& x) = 0;

  // Dotted names through the tree ("features.0.weight"), registration order, depth first.
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }

  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool training() const { return training_; }
  void zero_grad();  // clears every parameter's .grad()

  const std::string& name() const { return name_; }
  virtual std::string type_name() const = 0;  // "Linear", "Conv2d", ...
  int64_t parameter_count() const;

  // Replaces the values of parameters and buffers by name (shapes and dtypes must match);
  // throws Error naming what is missing, unexpected or mismatched.
  void load_tensors(const NamedTensors& tensors);

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t);  // sets requires_grad
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    m->name_ = name;
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(const std::string& prefix, bool params, NamedTensors& out) const;
  std::string name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace plumb::nn
