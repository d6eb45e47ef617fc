#pragma once
// Tensor: a cheap handle to shared storage plus shape, strides, offset, dtype and device.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "plumb/device.h"
#include "plumb/dtype.h"
#include "plumb/error.h"
#include "plumb/shape.h"

namespace plumb {

namespace autograd {
struct AutogradMeta;
}

// A block of device memory. Meta storage has no data and owns no bytes.
class Storage {
 public:
  Storage(Device device, size_t nbytes);  // allocates through allocator_for(device)
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  Device device_;
  size_t nbytes_;
  void* data_ = nullptr;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  Device device = kCPU;
  std::shared_ptr<autograd::AutogradMeta> autograd;  // created lazily
};

struct TensorSpec {
  Shape shape;
  DType dtype = DType::f32;
  Device device = kCPU;
  bool operator==(const TensorSpec&) const = default;
  std::string str() const;  // "f32(2, 3)@cpu"
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. Storage comes from the device's allocator; meta tensors get none.
  static Tensor empty(Shape shape, DType dtype = DType::f32, Device device = kCPU);
  static Tensor zeros(Shape shape, DType dtype = DType::f32, Device device = kCPU);
  static Tensor ones(Shape shape, DType dtype = DType::f32, Device device = kCPU);
  static Tensor full(Shape shape, double value, DType dtype = DType::f32, Device device = kCPU);
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = kCPU);
  static Tensor arange(int64_t n, DType dtype = DType::f32, Device device = kCPU);
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, Shape shape);
  static Tensor from_spec(const TensorSpec& spec);
  // A view over existing storage; the caller guarantees the extent fits.
  static Tensor view_of(const Tensor& base, Shape shape, Shape strides, int64_t offset);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().device; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t axis) const;  // negative axes count from the end
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  bool is_contiguous() const;
  bool is_meta() const { return device().type == DeviceType::meta; }
  TensorSpec spec() const { return {shape(), dtype(), device()}; }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }

  // Pointer to the first element (storage base + offset). Throws on meta tensors.
  void* raw_data() const;
  template <class T>
  T* data() const {
    check_dtype(dtype_of<T>::value);
    return static_cast<T*>(raw_data());
  }
  // Element values converted to T, in logical row-major order (any strides, any dtype).
  template <class T>
  std::vector<T> to_vector() const;
  double item() const;  // a one-element tensor's value as double

  // Autograd state lives with the tensor but is managed by autograd.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on);
  Tensor grad() const;
  void set_grad(const Tensor& g);
  // A new handle that shares storage but carries no autograd history.
  Tensor detach() const;

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same_storage(const Tensor& other) const { return storage() == other.storage(); }

  std::string str() const;  // spec plus up to a few values

 private:
  void check_dtype(DType t) const;
  std::shared_ptr<TensorImpl> impl_;
};

// Reads element `linear` (row-major logical index) of any dtype as double; slow, for tests and I/O.
double element_as_double(const Tensor& t, int64_t linear);
void set_element_from_double(const Tensor& t, int64_t linear, double value);

}  // namespace plumb
