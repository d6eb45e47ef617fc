#pragma once
// Hugging Face safetensors files: an 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype", "shape", "data_offsets"}, ..., "__metadata__": {str: str}}, space-padded so
// the data starts 8-byte aligned), then the tensors' bytes back to back, little-endian, row-major.
// Spec: https://github.com/huggingface/safetensors#format
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "plumb/tensor.h"

namespace plumb {

// Same type as nn::NamedTensors (module.h); redeclared here because core cannot include nn.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using TensorMetadata = std::map<std::string, std::string>;

struct SafetensorsContents {
  NamedTensors tensors;     // in the order of the header's keys; CPU tensors, contiguous
  TensorMetadata metadata;  // "__metadata__", empty when absent
};

// The largest header plumb accepts (the limit of the reference implementation).
inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

// Writes the tensors (any strides, CPU) in the given order through a temp file in the same
// directory, fsync and rename, so a killed run never leaves a half-written file at `path`.
// Throws Error on duplicate or reserved ("__metadata__") names, meta/non-CPU tensors, I/O failure.
void write_safetensors(const std::string& path, const NamedTensors& tensors, const TensorMetadata& metadata = {});
std::string serialize_safetensors(const NamedTensors& tensors, const TensorMetadata& metadata = {});

// Reads and validates a whole file; every malformed input is one Error naming the file and the fact.
SafetensorsContents read_safetensors(const std::string& path);
SafetensorsContents parse_safetensors(const std::string& bytes, const std::string& name);

// The safetensors dtype string ("F32", "BF16", "BOOL", ...) of a plumb dtype.
std::string safetensors_dtype_name(DType t);

}  // namespace plumb
