#pragma once
// Value checks on f32 tensors shared by the model tests.
#include <cmath>

#include "plumb/tensor.h"

namespace plumb::testing {

inline bool all_finite(const Tensor& t) {
  for (float v : t.to_vector<float>())
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace plumb::testing
