// Checkpoints on top of safetensors: prefixes separate model and optimizer tensors; the format tag
// and the optimizer's type in __metadata__ let load_checkpoint reject a file that does not fit.
#include "plumb/nn/checkpoint.h"

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "plumb/safetensors.h"

namespace plumb::nn {

namespace {

constexpr std::string_view kModelPrefix = "model.";
constexpr std::string_view kOptimPrefix = "optim.";
constexpr const char* kReserved[] = {"format", "model", "optimizer", "optimizer.lr"};

// %.17g round-trips every double exactly.
std::string exact_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out;
}

}  // namespace

bool is_reserved_checkpoint_key(const std::string& key) {
  for (const char* r : kReserved)
    if (key == r) return true;
  return false;
}

void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer,
                     const CheckpointMetadata& metadata) {
  TensorMetadata meta;
  for (const auto& [k, v] : metadata) {
    if (is_reserved_checkpoint_key(k))
      fail(path, ": metadata key '", k, "' is reserved for plumb (format, model, optimizer, optimizer.lr)");
    meta[k] = v;
  }
  meta["format"] = kCheckpointFormat;
  meta["model"] = model.type_name();

  NamedTensors tensors;
  for (auto& [n, t] : model.named_parameters()) tensors.emplace_back(std::string(kModelPrefix) + n, t);
  for (auto& [n, t] : model.named_buffers()) tensors.emplace_back(std::string(kModelPrefix) + n, t);
  if (optimizer) {
    meta["optimizer"] = optimizer->type_name();
    meta["optimizer.lr"] = exact_double(optimizer->lr());
    for (auto& [n, t] : optimizer->state()) tensors.emplace_back(std::string(kOptimPrefix) + n, t);
  }
  write_safetensors(path, tensors, meta);
}

CheckpointMetadata load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer) {
  SafetensorsContents file = read_safetensors(path);
  auto format = file.metadata.find("format");
  if (format == file.metadata.end())
    fail(path, ": not a plumb checkpoint (its metadata has no 'format'; expected '", kCheckpointFormat, "')");
  if (format->second != kCheckpointFormat)
    fail(path, ": unsupported checkpoint format '", format->second, "' (expected '", kCheckpointFormat, "')");

  NamedTensors model_tensors, optim_tensors;
  std::vector<std::string> stray;
  for (auto& [n, t] : file.tensors) {
    const std::string_view name(n);
    if (name.starts_with(kModelPrefix)) model_tensors.emplace_back(n.substr(kModelPrefix.size()), t);
    else if (name.starts_with(kOptimPrefix)) optim_tensors.emplace_back(n.substr(kOptimPrefix.size()), t);
    else stray.push_back(n);
  }
  if (!stray.empty()) fail(path, ": tensors outside 'model.' and 'optim.': ", join(stray));

  // Check the optimizer's type before changing anything.
  const auto opt_type = file.metadata.find("optimizer");
  if (optimizer) {
    if (opt_type == file.metadata.end())
      fail(path, ": the checkpoint holds no optimizer state, but a ", optimizer->type_name(),
           " optimizer was given to restore");
    if (opt_type->second != optimizer->type_name())
      fail(path, ": the checkpoint holds ", opt_type->second, " optimizer state, but the optimizer is ",
           optimizer->type_name());
  }

  try {
    model.load_tensors(model_tensors);
  } catch (const Error& e) {
    const auto saved = file.metadata.find("model");
    fail(path, ": the checkpoint (of a ", saved == file.metadata.end() ? std::string("?") : saved->second,
         ") does not fit this ", model.type_name(), ": ", e.what());
  }
  if (optimizer) {
    try {
      optimizer->load_state(optim_tensors);
    } catch (const Error& e) {
      fail(path, ": cannot restore the ", optimizer->type_name(), " state: ", e.what());
    }
    const auto lr = file.metadata.find("optimizer.lr");
    if (lr != file.metadata.end()) {
      char* end = nullptr;
      const double v = std::strtod(lr->second.c_str(), &end);
      if (end == lr->second.c_str() || *end != '\0') fail(path, ": optimizer.lr '", lr->second, "' is not a number");
      optimizer->set_lr(v);
    }
  }

  CheckpointMetadata out;
  for (auto& [k, v] : file.metadata)
    if (!is_reserved_checkpoint_key(k)) out.emplace(k, v);
  return out;
}

}  // namespace plumb::nn
