#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace plumb {

using Shape = std::vector<int64_t>;

int64_t numel(std::span<const int64_t> shape);
Shape contiguous_strides(std::span<const int64_t> shape);
std::string shape_str(std::span<const int64_t> shape);  // "(2, 3, 4)"
// NumPy broadcasting; throws Error naming `op` when the shapes do not broadcast.
Shape broadcast_shapes(std::span<const int64_t> a, std::span<const int64_t> b, std::string_view op);
// Wraps a possibly negative axis into [0, rank); throws Error naming `op` when out of range.
int64_t normalize_axis(int64_t axis, int64_t rank, std::string_view op);

}  // namespace plumb
