// Reference kernels of the movement ops that move bytes: copy, concat, pad. Views have no kernel.
// Values are moved as raw elements of the dtype's width, so every dtype (f16/bf16 included) works.
#include <cstring>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/reference/reference.h"
#include "ops/op_def.h"

namespace plumb::backends::reference {

namespace {

const std::vector<DType> kAllTypes = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i64,
                                      DType::i32, DType::i8,  DType::u8,  DType::boolean};

// Calls f(W{}) with an unsigned integer type as wide as one element of `t`.
template <class F>
void with_width(DType t, F&& f) {
  switch (dtype_size(t)) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    case 8: f(uint64_t{}); break;
    default: fail("cpu kernel: unsupported element width ", dtype_size(t));
  }
}

// copy: x (any shape, any strides) -> out (same shape, contiguous). Rows of the last axis are the unit of work.
void copy_kernel(const KernelArgs& a) {
  const Tensor& x = a.inputs[0];
  Tensor& out = a.outputs[0];
  const int64_t n = out.numel();
  if (n == 0) return;
  if (x.is_contiguous()) {
    std::memcpy(out.raw_data(), x.raw_data(), out.nbytes());
    return;
  }
  const Shape& shape = x.shape();
  const int64_t inner = shape.back();
  const int64_t inner_stride = x.strides().back();
  const Shape outer_shape(shape.begin(), shape.end() - 1);
  const Shape outer_strides(x.strides().begin(), x.strides().end() - 1);
  const int64_t rows = n / inner;
  with_width(x.dtype(), [&](auto tag) {
    using W = decltype(tag);
    const W* src = static_cast<const W*>(x.raw_data());
    W* dst = static_cast<W*>(out.raw_data());
    parallel_for(rows, std::max<int64_t>(1, 16384 / inner), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const W* s = src + cpu::offset_of(r, outer_shape, outer_strides);
        W* d = dst + r * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] = s[i * inner_stride];
      }
    });
  });
}

// concat along axis: each input (outer, len_i * inner) lands at column offset sum(len_j * inner, j < i).
void concat_kernel(const KernelArgs& a) {
  Tensor& out = a.outputs[0];
  const int64_t axis = normalize_axis(ops::attrs_as<AxisAttrs>(a.attrs).axis, out.dim(), "concat");
  const Shape& os = out.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= os[d];
  for (int64_t d = axis + 1; d < out.dim(); ++d) inner *= os[d];
  const size_t width = dtype_size(out.dtype());
  const int64_t out_row = os[axis] * inner;
  char* dst = static_cast<char*>(out.raw_data());
  int64_t col = 0;
  for (const Tensor& x : a.inputs) {
    const int64_t row = x.shape()[axis] * inner;
    if (row > 0) {
      const char* src = static_cast<const char*>(x.raw_data());
      parallel_for(outer, std::max<int64_t>(1, 16384 / row), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o)
          std::memcpy(dst + (o * out_row + col) * width, src + o * row * width, row * width);
      });
    }
    col += row;
  }
}

// The pad value as the dtype's bit pattern.
template <class W>
W pad_value_bits(DType t, double v) {
  W bits{};
  auto put = [&](auto value) {
    static_assert(sizeof(value) == sizeof(W));
    std::memcpy(&bits, &value, sizeof(W));
  };
  switch (t) {
    case DType::f64: if constexpr (sizeof(W) == 8) put(v); break;
    case DType::f32: if constexpr (sizeof(W) == 4) put(static_cast<float>(v)); break;
    case DType::f16: if constexpr (sizeof(W) == 2) put(f32_to_f16(static_cast<float>(v))); break;
    case DType::bf16: if constexpr (sizeof(W) == 2) put(f32_to_bf16(static_cast<float>(v))); break;
    case DType::i64: if constexpr (sizeof(W) == 8) put(static_cast<int64_t>(v)); break;
    case DType::i32: if constexpr (sizeof(W) == 4) put(static_cast<int32_t>(v)); break;
    case DType::i8: if constexpr (sizeof(W) == 1) put(static_cast<int8_t>(v)); break;
    case DType::u8: if constexpr (sizeof(W) == 1) put(static_cast<uint8_t>(v)); break;
    case DType::boolean: if constexpr (sizeof(W) == 1) put(static_cast<uint8_t>(v != 0)); break;
  }
  return bits;
}

// pad: x (s_0, ..., s_{r-1}) -> out (s_d + begin_d + end_d); out[o] = x[o - begin] where inside, else value.
void pad_kernel(const KernelArgs& a) {
  const auto& attrs = ops::attrs_as<PadAttrs>(a.attrs);
  const Tensor& x = a.inputs[0];
  Tensor& out = a.outputs[0];
  const int64_t n = out.numel();
  if (n == 0) return;
  const int64_t rank = out.dim();
  if (rank == 0) {
    std::memcpy(out.raw_data(), x.raw_data(), out.nbytes());
    return;
  }
  const Shape& os = out.shape();
  const Shape& xs = x.shape();
  const Shape xstrides = contiguous_strides(xs);
  const int64_t inner = os[rank - 1];
  const int64_t rows = n / inner;
  const int64_t begin_last = attrs.pads[rank - 1];
  with_width(out.dtype(), [&](auto tag) {
    using W = decltype(tag);
    const W fill = pad_value_bits<W>(out.dtype(), attrs.value);
    const W* src = static_cast<const W*>(x.raw_data());
    W* dst = static_cast<W*>(out.raw_data());
    parallel_for(rows, std::max<int64_t>(1, 16384 / inner), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        W* d = dst + r * inner;
        // Map the output row (all axes but the last) to an input row, if it lies inside.
        bool inside = true;
        int64_t src_off = 0, rem = r;
        for (int64_t ax = rank - 2; ax >= 0; --ax) {
          const int64_t i = rem % os[ax] - attrs.pads[ax];
          rem /= os[ax];
          if (i < 0 || i >= xs[ax]) inside = false;
          src_off += i * xstrides[ax];
        }
        for (int64_t j = 0; j < inner; ++j) {
          const int64_t i = j - begin_last;
          d[j] = inside && i >= 0 && i < xs[rank - 1] ? src[src_off + i] : fill;
        }
      }
    });
  });
}

}  // namespace

void register_movement() {
  // The dispatcher calls copy to make other kernels' inputs contiguous, so copy takes any strides.
  register_kernel(Kernel{"copy", DeviceType::cpu, "reference", kAllTypes, &copy_kernel, 0, true});
  register_kernel(Kernel{"concat", DeviceType::cpu, "reference", kAllTypes, &concat_kernel, 0, false});
  register_kernel(Kernel{"pad", DeviceType::cpu, "reference", kAllTypes, &pad_kernel, 0, false});
}

}  // namespace plumb::backends::reference
