// Tensors: factories, views sharing storage, allocator live/peak accounting, and error messages.
#include "plumb/tensor.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "plumb/allocator.h"
#include "plumb/ops.h"

namespace plumb {
namespace {

std::string error_of(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

AllocatorStats cpu_stats() { return allocator_for(kCPU).stats(); }

TEST(Tensor, FactoriesAndValues) {
  const Tensor z = Tensor::zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.strides(), (Shape{3, 1}));
  EXPECT_EQ(z.dtype(), DType::f32);
  EXPECT_EQ(z.device(), kCPU);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.nbytes(), 24u);
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(Tensor::ones({3}, DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(Tensor::full({2}, 2.5, DType::f16).to_vector<double>(), (std::vector<double>{2.5, 2.5}));
  EXPECT_EQ(Tensor::arange(4, DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 2, 3}));
  const Tensor s = Tensor::scalar(7, DType::f64);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 7.0);
  const Tensor v = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2});
  EXPECT_EQ(v.dtype(), DType::f64);
  EXPECT_EQ(v.data<double>()[5], 6.0);
  EXPECT_EQ(v.size(-1), 2);
  EXPECT_EQ(v.size(0), 3);
  EXPECT_EQ(Tensor::empty({0, 4}).numel(), 0);
  EXPECT_EQ(v.str(), "Tensor(f64(3, 2) [1, 2, 3, 4, 5, 6])");
  EXPECT_EQ(TensorSpec({{4}, DType::bf16, kMeta}).str(), "bf16(4,)@meta");
}

TEST(Tensor, ViewsShareStorage) {
  const Tensor base = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  const Tensor t = Tensor::view_of(base, {3, 2}, {1, 3}, 0);  // transpose
  EXPECT_TRUE(t.same_storage(base));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  set_element_from_double(t, 1, 30);  // t[0, 1] is base[1, 0]
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{0, 1, 2, 30, 4, 5}));

  const Tensor row = Tensor::view_of(base, {3}, {1}, 3);  // second row
  EXPECT_TRUE(row.is_contiguous());
  EXPECT_EQ(row.raw_data(), static_cast<char*>(base.raw_data()) + 3 * sizeof(float));
  EXPECT_EQ(row.to_vector<float>(), (std::vector<float>{30, 4, 5}));

  const Tensor bcast = Tensor::view_of(base, {4, 3}, {0, 1}, 0);  // zero stride repeats the first row
  EXPECT_EQ(bcast.to_vector<float>(), (std::vector<float>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}));

  const Tensor d = base.detach();
  EXPECT_TRUE(d.same_storage(base));
  EXPECT_NE(d.impl_ptr(), base.impl_ptr());

  // A view keeps the storage alive after the base handle is gone.
  Tensor survivor;
  {
    const Tensor tmp = Tensor::from_vector<float>({9, 8}, {2});
    survivor = Tensor::view_of(tmp, {1}, {1}, 1);
  }
  EXPECT_EQ(survivor.item(), 8.0);
}

TEST(Allocator, LiveAndPeakFollowTensors) {
  const AllocatorStats before = cpu_stats();
  {
    const Tensor a = Tensor::empty({1000}, DType::f32);
    const AllocatorStats with_a = cpu_stats();
    EXPECT_EQ(with_a.live_bytes, before.live_bytes + 4000);
    EXPECT_GE(with_a.peak_bytes, with_a.live_bytes);
    EXPECT_EQ(with_a.total_allocations, before.total_allocations + 1);
    EXPECT_EQ(with_a.total_bytes_allocated, before.total_bytes_allocated + 4000);
    {
      const Tensor b = Tensor::empty({500}, DType::f64);
      const Tensor view = Tensor::view_of(b, {10}, {1}, 0);  // views allocate nothing
      EXPECT_EQ(cpu_stats().live_bytes, before.live_bytes + 8000);
      EXPECT_GE(cpu_stats().peak_bytes, before.live_bytes + 8000);
    }
    EXPECT_EQ(cpu_stats().live_bytes, before.live_bytes + 4000);
    EXPECT_GE(cpu_stats().peak_bytes, before.live_bytes + 8000);  // peak remembers b
    allocator_for(kCPU).reset_peak();
    EXPECT_EQ(cpu_stats().peak_bytes, before.live_bytes + 4000);
  }
  EXPECT_EQ(cpu_stats().live_bytes, before.live_bytes);
  EXPECT_EQ(cpu_stats().peak_bytes, before.live_bytes + 4000);

  // Storage lives as long as any view of it.
  Tensor view;
  {
    const Tensor big = Tensor::empty({256}, DType::f64);
    view = Tensor::view_of(big, {1}, {1}, 0);
  }
  EXPECT_EQ(cpu_stats().live_bytes, before.live_bytes + 2048);
  view = Tensor();
  EXPECT_EQ(cpu_stats().live_bytes, before.live_bytes);
}

TEST(Allocator, MetaTensorsAllocateNothing) {
  const AllocatorStats before = cpu_stats();
  const Tensor m = Tensor::empty({1 << 20, 1 << 20}, DType::f32, kMeta);  // 4 TiB on paper
  EXPECT_TRUE(m.is_meta());
  EXPECT_EQ(m.numel(), int64_t{1} << 40);
  EXPECT_EQ(cpu_stats().live_bytes, before.live_bytes);
  EXPECT_EQ(cpu_stats().total_allocations, before.total_allocations);
  EXPECT_EQ(error_of([] { allocator_for(kMeta); }), "no allocator for device meta");
#ifndef PLUMB_HAS_CUDA
  EXPECT_EQ(error_of([] { allocator_for(Device{DeviceType::cuda, 0}); }),
            "no allocator for device cuda:0 (built without PLUMB_CUDA)");
#endif
}

TEST(Tensor, ErrorMessages) {
  const Tensor undefined;
  EXPECT_FALSE(undefined.defined());
  EXPECT_EQ(undefined.str(), "Tensor(undefined)");
  EXPECT_EQ(error_of([&] { (void)undefined.shape(); }), "tensor: use of an undefined tensor");
  EXPECT_EQ(error_of([&] { (void)undefined.numel(); }), "tensor: use of an undefined tensor");
  EXPECT_EQ(error_of([&] { (void)undefined.dtype(); }), "tensor: use of an undefined tensor");
  EXPECT_EQ(error_of([&] { (void)undefined.raw_data(); }), "tensor: use of an undefined tensor");

  const Tensor f = Tensor::zeros({2, 3});
  EXPECT_EQ(error_of([&] { (void)f.data<double>(); }), "tensor: data<f64>() on a f32 tensor");
  EXPECT_EQ(error_of([&] { (void)f.item(); }), "tensor: item() on a tensor of shape (2, 3)");
  EXPECT_EQ(error_of([&] { (void)f.size(2); }), "size: axis 2 is out of range for rank 2");
  EXPECT_EQ(error_of([] { Tensor::empty({2, -1}); }), "tensor: negative dimension in shape (2, -1)");
  EXPECT_EQ(error_of([] { Tensor::from_vector<float>({1, 2, 3}, {2, 2}); }), "tensor: 3 values do not fill shape (2, 2)");
  const Tensor m = Tensor::empty({2}, DType::f32, kMeta);
  EXPECT_EQ(error_of([&] { (void)m.raw_data(); }), "tensor: a meta tensor has no data");
  EXPECT_EQ(error_of([&] { (void)m.to_vector<float>(); }), "tensor: a meta tensor has no values");
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

TEST(TensorShape, OverflowingShapeIsAnError) {
  // A zero dim makes numel 0, but the strides of the later dims would still overflow int64.
  EXPECT_THROW(Tensor::empty({0, int64_t{1} << 32, int64_t{1} << 32}), Error);
  EXPECT_THROW(Tensor::empty({int64_t{1} << 40, int64_t{1} << 30}), Error);
  EXPECT_EQ(Tensor::empty({0, 1 << 20, 1 << 10}, DType::f32, kMeta).numel(), 0);
}

TEST(TensorShape, EmptyTensorsAreContiguous) {
  EXPECT_TRUE(Tensor::empty({2, 0, 3}).is_contiguous());
}

TEST(Tensor, ToVectorKeepsLargeIntegersExact) {
  const int64_t big = std::numeric_limits<int64_t>::max(), odd = (int64_t{1} << 53) + 1;
  const Tensor t = Tensor::from_vector<int64_t>({big, odd, -big}, {3});
  const std::vector<int64_t> v = t.to_vector<int64_t>();
  EXPECT_EQ(v, (std::vector<int64_t>{big, odd, -big}));
  // Through a view (strided), and across integer widths.
  EXPECT_EQ(slice(t, 0, 1, 3, 1).to_vector<int64_t>(), (std::vector<int64_t>{odd, -big}));
  EXPECT_EQ(Tensor::from_vector<int32_t>({-7, 9}, {2}).to_vector<int64_t>(), (std::vector<int64_t>{-7, 9}));
}

}  // namespace
}  // namespace plumb
