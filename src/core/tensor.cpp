#include "plumb/tensor.h"

#include <cstring>
#include <limits>
#include <sstream>
#include <type_traits>

#include "plumb/allocator.h"

namespace plumb {

Storage::Storage(Device device, size_t nbytes) : device_(device), nbytes_(nbytes) {
  if (device.type != DeviceType::meta) data_ = allocator_for(device).allocate(nbytes);
}

Storage::~Storage() {
  if (data_) allocator_for(device_).deallocate(data_, nbytes_);
}

std::string TensorSpec::str() const {
  return std::string(dtype_name(dtype)) + shape_str(shape) + (device == kCPU ? "" : "@" + device.str());
}

namespace {
std::shared_ptr<TensorImpl> make_impl(Shape shape, DType dtype, Device device) {
  // Strides multiply max(d, 1) over the dims: they (and the byte count) must fit in int64.
  int64_t extent = static_cast<int64_t>(dtype_size(dtype));
  for (int64_t d : shape) {
    if (d < 0) fail("tensor: negative dimension in shape ", shape_str(shape));
    if (d > 1 && extent > std::numeric_limits<int64_t>::max() / d)
      fail("tensor: shape ", shape_str(shape), " of ", dtype_name(dtype), " is too large");
    if (d > 1) extent *= d;
  }
  auto impl = std::make_shared<TensorImpl>();
  const size_t nbytes = static_cast<size_t>(numel(shape)) * dtype_size(dtype);
  impl->storage = std::make_shared<Storage>(device, nbytes);
  impl->strides = contiguous_strides(shape);
  impl->shape = std::move(shape);
  impl->dtype = dtype;
  impl->device = device;
  return impl;
}

template <class T>
T convert_from_double(double v) {
  if constexpr (std::is_same_v<T, Half>) return Half{f32_to_f16(static_cast<float>(v))};
  else if constexpr (std::is_same_v<T, BFloat16>) return BFloat16{f32_to_bf16(static_cast<float>(v))};
  else if constexpr (std::is_same_v<T, bool>) return v != 0;
  else return static_cast<T>(v);
}

template <class T>
double convert_to_double(T v) {
  if constexpr (std::is_same_v<T, Half>) return f16_to_f32(v.bits);
  else if constexpr (std::is_same_v<T, BFloat16>) return bf16_to_f32(v.bits);
  else return static_cast<double>(v);
}

template <class F>
void with_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f64: f(double{}); break;
    case DType::f32: f(float{}); break;
    case DType::f16: f(Half{}); break;
    case DType::bf16: f(BFloat16{}); break;
    case DType::i64: f(int64_t{}); break;
    case DType::i32: f(int32_t{}); break;
    case DType::i8: f(int8_t{}); break;
    case DType::u8: f(uint8_t{}); break;
    case DType::boolean: f(bool{}); break;
  }
}

// Element offset of the row-major logical index `linear`.
int64_t strided_offset(const Tensor& t, int64_t linear) {
  int64_t off = t.offset();
  const auto& shape = t.shape();
  const auto& strides = t.strides();
  for (size_t i = shape.size(); i-- > 0;) {
    const int64_t idx = linear % shape[i];
    linear /= shape[i];
    off += idx * strides[i];
  }
  return off;
}
}  // namespace

double element_as_double(const Tensor& t, int64_t linear) {
  PLUMB_CHECK(!t.is_meta(), "tensor: a meta tensor has no values");
  const int64_t off = strided_offset(t, linear);
  double out = 0;
  with_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    out = convert_to_double(static_cast<const T*>(t.storage()->data())[off]);
  });
  return out;
}

void set_element_from_double(const Tensor& t, int64_t linear, double value) {
  PLUMB_CHECK(!t.is_meta(), "tensor: a meta tensor has no values");
  const int64_t off = strided_offset(t, linear);
  with_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    static_cast<T*>(t.storage()->data())[off] = convert_from_double<T>(value);
  });
}

Tensor Tensor::empty(Shape shape, DType dtype, Device device) { return Tensor(make_impl(std::move(shape), dtype, device)); }

Tensor Tensor::full(Shape shape, double value, DType dtype, Device device) {
  Tensor t = empty(std::move(shape), dtype, device);
  if (t.is_meta()) return t;
  const int64_t n = t.numel();
  with_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(t.raw_data());
    const T v = convert_from_double<T>(value);
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  });
  return t;
}

Tensor Tensor::zeros(Shape shape, DType dtype, Device device) { return full(std::move(shape), 0.0, dtype, device); }
Tensor Tensor::ones(Shape shape, DType dtype, Device device) { return full(std::move(shape), 1.0, dtype, device); }
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  Tensor t = empty({n}, dtype, device);
  if (!t.is_meta())
    for (int64_t i = 0; i < n; ++i) set_element_from_double(t, i, static_cast<double>(i));
  return t;
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, Shape shape) {
  if (plumb::numel(shape) != static_cast<int64_t>(values.size()))
    fail("tensor: ", values.size(), " values do not fill shape ", shape_str(shape));
  Tensor t = empty(std::move(shape), dtype_of<T>::value, kCPU);
  T* p = static_cast<T*>(t.raw_data());
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}
template Tensor Tensor::from_vector(const std::vector<double>&, Shape);
template Tensor Tensor::from_vector(const std::vector<float>&, Shape);
template Tensor Tensor::from_vector(const std::vector<int64_t>&, Shape);
template Tensor Tensor::from_vector(const std::vector<int32_t>&, Shape);
template Tensor Tensor::from_vector(const std::vector<int8_t>&, Shape);
template Tensor Tensor::from_vector(const std::vector<uint8_t>&, Shape);

Tensor Tensor::from_spec(const TensorSpec& spec) { return empty(spec.shape, spec.dtype, spec.device); }

Tensor Tensor::view_of(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  impl->device = base.device();
  return Tensor(std::move(impl));
}

TensorImpl& Tensor::impl() const {
  if (!impl_) fail("tensor: use of an undefined tensor");
  return *impl_;
}

int64_t Tensor::size(int64_t axis) const { return shape()[normalize_axis(axis, dim(), "size")]; }
int64_t Tensor::numel() const { return plumb::numel(shape()); }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // no element to be out of place
  int64_t expected = 1;
  const auto& s = shape();
  const auto& st = strides();
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= s[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  if (is_meta()) fail("tensor: a meta tensor has no data");
  return static_cast<char*>(storage()->data()) + offset() * static_cast<int64_t>(dtype_size(dtype()));
}

void Tensor::check_dtype(DType t) const {
  if (dtype() != t) fail("tensor: data<", dtype_name(t), ">() on a ", dtype_name(dtype()), " tensor");
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  const int64_t n = numel();
  std::vector<T> out(static_cast<size_t>(n));
  PLUMB_CHECK(!is_meta(), "tensor: a meta tensor has no values");
  with_dtype(dtype(), [&](auto tag) {
    using S = decltype(tag);
    const S* base = static_cast<const S*>(storage()->data());
    for (int64_t i = 0; i < n; ++i) {
      const S v = base[strided_offset(*this, i)];
      // Integers go straight across: through double, an i64 beyond 2^53 (INT64_MAX as "to the end") breaks.
      if constexpr (std::is_integral_v<S> && std::is_integral_v<T>)
        out[static_cast<size_t>(i)] = static_cast<T>(v);
      else
        out[static_cast<size_t>(i)] = static_cast<T>(convert_to_double(v));
    }
  });
  return out;
}
template std::vector<double> Tensor::to_vector() const;
template std::vector<float> Tensor::to_vector() const;
template std::vector<int64_t> Tensor::to_vector() const;
template std::vector<int32_t> Tensor::to_vector() const;
template std::vector<uint8_t> Tensor::to_vector() const;

double Tensor::item() const {
  if (numel() != 1) fail("tensor: item() on a tensor of shape ", shape_str(shape()));
  return element_as_double(*this, 0);
}

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(" << spec().str();
  if (!is_meta()) {
    os << " [";
    const int64_t n = std::min<int64_t>(numel(), 8);
    for (int64_t i = 0; i < n; ++i) os << (i ? ", " : "") << element_as_double(*this, i);
    if (numel() > n) os << ", ...";
    os << "]";
  }
  return os.str() + ")";
}

}  // namespace plumb
