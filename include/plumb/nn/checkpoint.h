#pragma once
// Training checkpoints: one safetensors file holding the model's parameters and buffers as
// "model.<name>", the optimizer's state (Optimizer::state()) as "optim.<name>", and string metadata.
// Written through a temp file and renamed, so a killed run never leaves a half-written checkpoint.
#include <map>
#include <string>

#include "plumb/nn/module.h"
#include "plumb/nn/optim.h"

namespace plumb::nn {

using CheckpointMetadata = std::map<std::string, std::string>;

// The "format" value in every checkpoint's metadata.
inline constexpr const char* kCheckpointFormat = "plumb-checkpoint-1";

// Metadata keys plumb writes itself and callers may not use: "format", "model" (the root module's
// type_name), "optimizer" (the optimizer's type_name, when one is saved) and "optimizer.lr".
bool is_reserved_checkpoint_key(const std::string& key);

// Saves `model` and, when non-null, `optimizer`. Throws Error on a reserved metadata key or I/O failure.
void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer,
                     const CheckpointMetadata& metadata = {});

// Restores `model` (Module::load_tensors) and, when non-null, `optimizer` (Optimizer::load_state and
// its learning rate). Returns the caller's metadata as saved (reserved keys removed). Throws an Error
// naming the file when it is not a plumb checkpoint, does not fit the model (missing, unexpected or
// mismatched names listed), holds no optimizer state, or holds another optimizer type's state.
// A checkpoint with optimizer state may be loaded with a null optimizer (weights only).
CheckpointMetadata load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer = nullptr);

}  // namespace plumb::nn
