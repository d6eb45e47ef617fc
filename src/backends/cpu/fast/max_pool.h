#pragma once
// plumb's own max pooling kernels (max_pool.cpp) that the oneDNN pooling kernel calls. Not a public header.
#include "plumb/op_attrs.h"
#include "plumb/tensor.h"

namespace plumb::backends::fast {

// y = max_pool(x) when the windows are 2x2 with stride 2, unpadded, all inside x, and x is f32; returns
// false (nothing written) otherwise.
bool max_pool_2x2(const Tensor& x, const Tensor& y, const PoolAttrs& at);

}  // namespace plumb::backends::fast
