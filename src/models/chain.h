#pragma once
// A Sequential whose children have names, so profiles and parameter names read "conv1.weight",
// "block0.repeat1" as in the TensorFlow scopes and torchvision state dicts the zoo follows.
#include <memory>
#include <string>
#include <utility>

#include "plumb/nn/module.h"

namespace plumb::models {

class Chain : public nn::Module {
 public:
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = x;
    for (const auto& [name, child] : named_children()) y = (*child)(y);
    return y;
  }
  std::string type_name() const override { return "Sequential"; }
};

}  // namespace plumb::models
