// Adds two tensors through an installed plumb and checks the sum.
#include <cstdio>
#include <vector>

#include "plumb/ops.h"
#include "plumb/tensor.h"

int main() {
  try {
    const plumb::Tensor a = plumb::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
    const plumb::Tensor b = plumb::Tensor::from_vector<float>({10, 20, 30}, {3});
    const std::vector<float> sum = plumb::add(a, b).to_vector<float>();
    const std::vector<float> expected = {11, 22, 33, 14, 25, 36};
    if (sum != expected) {
      std::fprintf(stderr, "consumer: wrong sum\n");
      return 1;
    }
    std::printf("consumer: plumb::add ok\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
