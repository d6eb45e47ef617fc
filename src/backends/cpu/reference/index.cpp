// Reference kernels of index_select, gather and scatter_add. Index values are validated serially
// before the parallel loops, so an out-of-range index throws one plumb::Error on the calling thread.
#include <cstring>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/reference/reference.h"
#include "ops/op_def.h"

namespace plumb::backends::reference {

namespace {

const std::vector<DType> kAllTypes = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i64,
                                      DType::i32, DType::i8,  DType::u8,  DType::boolean};
const std::vector<DType> kAddTypes = {DType::f64, DType::f32, DType::f16, DType::bf16,
                                      DType::i64, DType::i32, DType::i8,  DType::u8};

// Index values widened to i64, each checked against [0, size).
std::vector<int64_t> read_index(const Tensor& index, std::string_view op, int64_t axis, int64_t size) {
  const int64_t n = index.numel();
  std::vector<int64_t> out(static_cast<size_t>(n));
  auto load = [&](auto tag) {
    using I = decltype(tag);
    const I* p = static_cast<const I*>(index.raw_data());
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int64_t>(p[i]);
  };
  if (n > 0) {
    if (index.dtype() == DType::i64) load(int64_t{});
    else load(int32_t{});
  }
  for (int64_t v : out)
    if (v < 0 || v >= size) fail(op, ": index ", v, " is out of range for axis ", axis, " of size ", size);
  return out;
}

int64_t axis_of(const KernelArgs& a, int64_t rank, std::string_view op) {
  return normalize_axis(ops::attrs_as<AxisAttrs>(a.attrs).axis, rank, op);
}

// x: (outer, n, inner), index: (k) -> out: (outer, k, inner); out[o, i, :] = x[o, index[i], :].
void index_select_kernel(const KernelArgs& a) {
  const Tensor &x = a.inputs[0], &index = a.inputs[1];
  Tensor& out = a.outputs[0];
  const int64_t axis = axis_of(a, x.dim(), "index_select");
  const int64_t n = x.shape()[axis];
  const std::vector<int64_t> idx = read_index(index, "index_select", axis, n);
  if (out.numel() == 0) return;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int64_t d = axis + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  const int64_t k = static_cast<int64_t>(idx.size());
  const size_t row_bytes = static_cast<size_t>(inner) * dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  parallel_for(outer * k, std::max<int64_t>(1, 16384 / inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / k, i = r % k;
      std::memcpy(dst + r * row_bytes, src + (o * n + idx[i]) * row_bytes, row_bytes);
    }
  });
}

// Strides of a contiguous `shape` with the `axis` entry zeroed: the offset of every coordinate but the axis one.
Shape strides_without_axis(const Shape& shape, int64_t axis) {
  Shape s = contiguous_strides(shape);
  s[axis] = 0;
  return s;
}

// x: (s_0, .., n, ..), index: (t_0, .., k, ..) with t_d <= s_d -> out: index's shape;
// out[p] = x[p with coordinate `axis` replaced by index[p]].
void gather_kernel(const KernelArgs& a) {
  const Tensor &x = a.inputs[0], &index = a.inputs[1];
  Tensor& out = a.outputs[0];
  const int64_t axis = axis_of(a, x.dim(), "gather");
  const std::vector<int64_t> idx = read_index(index, "gather", axis, x.shape()[axis]);
  const int64_t m = out.numel();
  if (m == 0) return;
  const Shape& is = index.shape();
  const Shape xs_rest = strides_without_axis(x.shape(), axis);
  const int64_t xs_axis = contiguous_strides(x.shape())[axis];
  const size_t width = dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  parallel_for(m, 4096, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t off = cpu::offset_of(p, is, xs_rest) + idx[p] * xs_axis;
      std::memcpy(dst + p * width, src + off * width, width);
    }
  });
}

template <class T>
void add_into(T& acc, T v) {
  if constexpr (std::is_same_v<T, Half>) acc.bits = f32_to_f16(f16_to_f32(acc.bits) + f16_to_f32(v.bits));
  else if constexpr (std::is_same_v<T, BFloat16>) acc.bits = f32_to_bf16(bf16_to_f32(acc.bits) + bf16_to_f32(v.bits));
  else acc = static_cast<T>(acc + v);
}

template <class F>
void with_add_type(DType t, F&& f) {
  switch (t) {
    case DType::f16: f(Half{}); break;
    case DType::bf16: f(BFloat16{}); break;
    default: cpu::with_native(t, f);
  }
}

// out = x; then out[p with coordinate `axis` replaced by index[p]] += src[p] for every p of index's shape.
// Index positions that differ on an axis before `axis` write disjoint outputs, so those rows run in parallel.
void scatter_add_kernel(const KernelArgs& a) {
  const Tensor &x = a.inputs[0], &index = a.inputs[1], &src = a.inputs[2];
  Tensor& out = a.outputs[0];
  const int64_t axis = axis_of(a, x.dim(), "scatter_add");
  const std::vector<int64_t> idx = read_index(index, "scatter_add", axis, x.shape()[axis]);
  if (out.numel() > 0) std::memcpy(out.raw_data(), x.raw_data(), out.nbytes());
  const int64_t m = index.numel();
  if (m == 0) return;
  const Shape& is = index.shape();
  const Shape os_rest = strides_without_axis(out.shape(), axis);
  const int64_t os_axis = contiguous_strides(out.shape())[axis];
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= is[d];
  const int64_t rest = m / outer;
  with_add_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* s = static_cast<const T*>(src.raw_data());
    T* o = static_cast<T*>(out.raw_data());
    parallel_for(outer, std::max<int64_t>(1, 4096 / rest), [&](int64_t r0, int64_t r1) {
      for (int64_t p = r0 * rest; p < r1 * rest; ++p)
        add_into(o[cpu::offset_of(p, is, os_rest) + idx[p] * os_axis], s[p]);
    });
  });
}

}  // namespace

void register_index() {
  register_kernel(Kernel{"index_select", DeviceType::cpu, "reference", kAllTypes, &index_select_kernel, 0, false});
  register_kernel(Kernel{"gather", DeviceType::cpu, "reference", kAllTypes, &gather_kernel, 0, false});
  register_kernel(Kernel{"scatter_add", DeviceType::cpu, "reference", kAddTypes, &scatter_add_kernel, 0, false});
}

}  // namespace plumb::backends::reference
