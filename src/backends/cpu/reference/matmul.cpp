// Reference matmul: a plain triple loop per batch matrix, reading operands through their strides
// (transposed views and broadcast batch dims cost no copy).
#include <vector>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/reference/reference.h"

namespace plumb::backends::reference {

namespace {

// Strides of t's batch dims (all but the last two) aligned to a batch of rank `rank`; broadcast dims get 0.
std::vector<int64_t> batch_strides(const Tensor& t, size_t rank) {
  const size_t tb = t.shape().size() - 2;
  std::vector<int64_t> s(rank, 0);
  for (size_t i = 0; i < tb; ++i) s[rank - tb + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return s;
}

// a: (..., M, K), b: (..., K, N) -> y: (..., M, N), y contiguous.
template <class T>
void matmul_kernel(const Tensor& a, const Tensor& b, Tensor& y) {
  const size_t rank = y.shape().size();
  const int64_t m = y.shape()[rank - 2], n = y.shape()[rank - 1], k = a.shape().back();
  const std::vector<int64_t> batch_shape(y.shape().begin(), y.shape().end() - 2);
  const std::vector<int64_t> sa = batch_strides(a, rank - 2), sb = batch_strides(b, rank - 2);
  const int64_t am = a.strides()[a.dim() - 2], ak = a.strides()[a.dim() - 1];
  const int64_t bk = b.strides()[b.dim() - 2], bn = b.strides()[b.dim() - 1];
  const int64_t batches = numel(batch_shape);
  if (y.numel() == 0) return;
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* py = y.data<T>();
  // One task per output row; rows of different batches are independent.
  parallel_for(batches * m, 16, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t batch = row / m, i = row % m;
      const T* ra = pa + cpu::offset_of(batch, batch_shape, sa) + i * am;
      const T* mb = pb + cpu::offset_of(batch, batch_shape, sb);
      T* ry = py + row * n;
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += static_cast<double>(ra[p * ak]) * static_cast<double>(mb[p * bk + j * bn]);
        ry[j] = static_cast<T>(acc);
      }
    }
  });
}

void matmul(const KernelArgs& args) {
  cpu::with_float(args.inputs[0].dtype(),
                  [&](auto t) { matmul_kernel<decltype(t)>(args.inputs[0], args.inputs[1], args.outputs[0]); });
}

}  // namespace

void register_matmul() {
  register_kernel(Kernel{"matmul", DeviceType::cpu, "reference", cpu::kFloatTypes, &matmul, 0, true});
}

}  // namespace plumb::backends::reference
