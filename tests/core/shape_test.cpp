// Shapes (broadcasting, strides, axes) and device names.
#include "plumb/shape.h"

#include <gtest/gtest.h>

#include <string>

#include "plumb/device.h"
#include "plumb/error.h"

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

TEST(Shape, NumelStridesAndPrinting) {
  EXPECT_EQ(numel(Shape{}), 1);
  EXPECT_EQ(numel(Shape{2, 3, 4}), 24);
  EXPECT_EQ(numel(Shape{2, 0, 4}), 0);
  EXPECT_EQ(contiguous_strides(Shape{2, 3, 4}), (Shape{12, 4, 1}));
  EXPECT_EQ(contiguous_strides(Shape{}), Shape{});
  EXPECT_EQ(contiguous_strides(Shape{5}), (Shape{1}));
  EXPECT_EQ(contiguous_strides(Shape{2, 0, 3}), (Shape{3, 3, 1}));  // zero-size dims count as 1
  EXPECT_EQ(shape_str(Shape{}), "()");
  EXPECT_EQ(shape_str(Shape{3}), "(3,)");
  EXPECT_EQ(shape_str(Shape{2, 3, 4}), "(2, 3, 4)");
}

TEST(Shape, BroadcastRules) {
  EXPECT_EQ(broadcast_shapes(Shape{2, 3}, Shape{2, 3}, "add"), (Shape{2, 3}));
  EXPECT_EQ(broadcast_shapes(Shape{3, 1}, Shape{1, 4}, "add"), (Shape{3, 4}));
  EXPECT_EQ(broadcast_shapes(Shape{}, Shape{2, 3}, "add"), (Shape{2, 3}));
  EXPECT_EQ(broadcast_shapes(Shape{2, 3}, Shape{}, "add"), (Shape{2, 3}));
  EXPECT_EQ(broadcast_shapes(Shape{4}, Shape{2, 3, 4}, "add"), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes(Shape{5, 1, 4}, Shape{3, 1}, "add"), (Shape{5, 3, 4}));
  EXPECT_EQ(broadcast_shapes(Shape{2, 0}, Shape{1}, "add"), (Shape{2, 0}));  // size 1 stretches to 0
  EXPECT_EQ(broadcast_shapes(Shape{0}, Shape{0}, "add"), (Shape{0}));
  EXPECT_EQ(broadcast_shapes(Shape{1, 1}, Shape{1}, "add"), (Shape{1, 1}));
}

TEST(Shape, BroadcastErrorNamesOpShapesAndAxis) {
  EXPECT_EQ(error_of([] { broadcast_shapes(Shape{2, 3}, Shape{4}, "add"); }),
            "add: shapes (2, 3) and (4,) do not broadcast (axis 1: 3 vs 4)");
  EXPECT_EQ(error_of([] { broadcast_shapes(Shape{2, 1, 3}, Shape{5, 2, 3}, "mul"); }),
            "mul: shapes (2, 1, 3) and (5, 2, 3) do not broadcast (axis 0: 2 vs 5)");
  EXPECT_EQ(error_of([] { broadcast_shapes(Shape{0}, Shape{2}, "where"); }),
            "where: shapes (0,) and (2,) do not broadcast (axis 0: 0 vs 2)");
}

TEST(Shape, NormalizeAxis) {
  EXPECT_EQ(normalize_axis(0, 3, "sum"), 0);
  EXPECT_EQ(normalize_axis(-1, 3, "sum"), 2);
  EXPECT_EQ(normalize_axis(-3, 3, "sum"), 0);
  EXPECT_EQ(error_of([] { normalize_axis(3, 3, "sum"); }), "sum: axis 3 is out of range for rank 3");
  EXPECT_EQ(error_of([] { normalize_axis(-4, 3, "sum"); }), "sum: axis -4 is out of range for rank 3");
  EXPECT_EQ(error_of([] { normalize_axis(0, 0, "softmax"); }), "softmax: axis 0 is out of range for rank 0");
}

TEST(Device, ParseAndPrint) {
  EXPECT_EQ(Device::parse("cpu"), kCPU);
  EXPECT_EQ(Device::parse("meta"), kMeta);
  EXPECT_EQ(Device::parse("cuda"), (Device{DeviceType::cuda, 0}));
  EXPECT_EQ(Device::parse("cuda:3"), (Device{DeviceType::cuda, 3}));
  EXPECT_EQ(kCPU.str(), "cpu");
  EXPECT_EQ(kMeta.str(), "meta");
  EXPECT_EQ((Device{DeviceType::cuda, 1}).str(), "cuda:1");
  EXPECT_EQ(Device::parse(Device{DeviceType::cuda, 7}.str()), (Device{DeviceType::cuda, 7}));
}

TEST(Device, ParseErrors) {
  for (const char* bad : {"gpu", "", "CPU", "cuda:", "cuda:-1", "cuda:1x", "cuda:x", "cpu:0", "cuda:99999999999"}) {
    EXPECT_EQ(error_of([&] { Device::parse(bad); }),
              std::string("unknown device '") + bad + "' (expected cpu, meta or cuda:N)")
        << bad;
  }
}

}  // namespace
}  // namespace plumb
