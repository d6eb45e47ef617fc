#pragma once
// NumPy .npy files (format 1.0-3.0): read any supported dtype, write version 1.0 little-endian.
#include <string>

#include "plumb/tensor.h"

namespace plumb {

Tensor read_npy(const std::string& path);  // throws Error naming the file and what is wrong
void write_npy(const std::string& path, const Tensor& t);  // temp file + rename
Tensor parse_npy(const std::string& bytes, const std::string& name);
std::string serialize_npy(const Tensor& t);

}  // namespace plumb
