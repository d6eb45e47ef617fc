// Module tree: registration, dotted names, train/eval, and loading named tensors.
#include "plumb/nn/module.h"

#include <map>
#include <sstream>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/nn/init.h"

namespace plumb::nn {

Tensor Module::operator()(const Tensor& x) {
  // An unnamed (root) module adds no path component, so a joined path equals the parameter prefix.
  if (name_.empty()) return forward(x);
  ModuleScope scope(name_);
  return forward(x);
}

void Module::collect(const std::string& prefix, bool params, NamedTensors& out) const {
  for (const auto& [n, t] : params ? params_ : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, child] : children_) child->collect(prefix + n + ".", params, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) t.set_grad(Tensor());
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

namespace {

void check_new_name(const std::string& kind, const std::string& name, const NamedTensors& params,
                    const NamedTensors& buffers) {
  if (name.empty() || name.find('.') != std::string::npos)
    fail("register_", kind, ": name '", name, "' must be non-empty and contain no '.'");
  for (const auto* list : {&params, &buffers})
    for (const auto& [n, t] : *list)
      if (n == name) fail("register_", kind, ": '", name, "' is already registered");
}

}  // namespace

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name("parameter", name, params_, buffers_);
  if (!t.defined()) fail("register_parameter: '", name, "' is undefined");
  t.set_requires_grad(true);
  params_.emplace_back(name, std::move(t));
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name("buffer", name, params_, buffers_);
  if (!t.defined()) fail("register_buffer: '", name, "' is undefined");
  buffers_.emplace_back(name, std::move(t));
  return buffers_.back().second;
}

void Module::load_tensors(const NamedTensors& tensors) {
  std::map<std::string, Tensor> expected;
  for (auto& [n, t] : named_parameters()) expected.emplace(n, t);
  for (auto& [n, t] : named_buffers()) expected.emplace(n, t);

  // Every problem is gathered first so one Error names them all and nothing is half-loaded.
  std::vector<std::string> missing, unexpected, mismatched, duplicated;
  std::map<std::string, const Tensor*> given;
  for (const auto& [n, t] : tensors) {
    if (!given.emplace(n, &t).second) {
      duplicated.push_back(n);
      continue;
    }
    auto it = expected.find(n);
    if (it == expected.end()) {
      unexpected.push_back(n);
    } else if (!t.defined()) {
      mismatched.push_back(n + " is undefined");
    } else if (t.shape() != it->second.shape() || t.dtype() != it->second.dtype() ||
               t.device() != it->second.device()) {
      mismatched.push_back(n + " is " + it->second.spec().str() + " in the module, " + t.spec().str() + " given");
    }
  }
  for (const auto& [n, t] : expected)
    if (!given.count(n)) missing.push_back(n);
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty() || !duplicated.empty()) {
    std::ostringstream msg;
    msg << "load_tensors:";
    auto list = [&](const char* what, const std::vector<std::string>& names) {
      if (names.empty()) return;
      msg << " " << what << ":";
      for (size_t i = 0; i < names.size(); ++i) msg << (i ? ", " : " ") << names[i];
      msg << ";";
    };
    list("missing", missing);
    list("unexpected", unexpected);
    list("mismatched", mismatched);
    list("given twice", duplicated);
    std::string s = msg.str();
    s.pop_back();
    fail(s);
  }
  NoGradScope no_grad;
  for (const auto& [n, t] : tensors) copy_into(expected.at(n), t);
}

}  // namespace plumb::nn
