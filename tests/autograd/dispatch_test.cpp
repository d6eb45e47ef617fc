#include <gtest/gtest.h>

#include "plumb/dispatch.h"
#include "plumb/op_attrs.h"
#include "plumb/ops.h"

namespace plumb {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Dispatch, UnknownOpNamesIt) {
  EXPECT_EQ(error_of([] { op_def("no_such_op"); }), "unknown op 'no_such_op'");
}

TEST(Dispatch, WrongInputCountNamesOp) {
  const std::string msg = error_of([] {
    std::vector<Tensor> in{Tensor::ones({2})};
    dispatch(op_def("add"), in, NoAttrs{});
  });
  EXPECT_EQ(msg, "add: expects 2 inputs, got 1");
}

TEST(Dispatch, ShapeMismatchNamesOpAndShapes) {
  const std::string msg = error_of([] { add(Tensor::ones({2, 3}), Tensor::ones({4})); });
  EXPECT_NE(msg.find("add"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(2, 3)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(4,)"), std::string::npos) << msg;
}

TEST(Dispatch, DtypeMismatchNamesBoth) {
  const std::string msg = error_of([] { add(Tensor::ones({2}), Tensor::ones({2}, DType::f64)); });
  EXPECT_NE(msg.find("f32"), std::string::npos) << msg;
  EXPECT_NE(msg.find("f64"), std::string::npos) << msg;
}

TEST(Dispatch, MissingKernelIsNeverSilent) {
  // f16 matmul passes infer but has no cpu kernel: the error lists what exists.
  const std::string msg = error_of([] { matmul(Tensor::ones({2, 2}, DType::f16), Tensor::ones({2, 2}, DType::f16)); });
  EXPECT_NE(msg.find("matmul: no kernel for device cpu and dtype f16"), std::string::npos) << msg;
}

TEST(Dispatch, MixedDevicesAreRejected) {
  const std::string msg = error_of([] { add(Tensor::ones({2}), Tensor::empty({2}, DType::f32, kMeta)); });
  EXPECT_NE(msg.find("meta"), std::string::npos) << msg;
}

struct Names : DispatchObserver {
  std::vector<std::string> ops, regions;
  void on_op(const OpEvent& e) override {
    ops.push_back(e.op->name);
    regions.push_back(e.regions.empty() ? "" : e.regions.back());
  }
};

TEST(Dispatch, CompositeRunsAsRegionAroundPrimitives) {
  Names rec;
  {
    ObserverScope scope(&rec);
    DecomposeScope decompose;
    softmax(Tensor::ones({2, 3}), -1);
  }
  ASSERT_FALSE(rec.ops.empty());
  for (size_t i = 0; i < rec.ops.size(); ++i) EXPECT_EQ(rec.regions[i], "softmax") << rec.ops[i];
}

TEST(Dispatch, EventsCarryCost) {
  struct CostRec : DispatchObserver {
    Cost c;
    void on_op(const OpEvent& e) override { c += e.cost; }
  } rec;
  {
    ObserverScope scope(&rec);
    matmul(Tensor::ones({4, 5}), Tensor::ones({5, 6}));
  }
  EXPECT_EQ(rec.c.flops, 2.0 * 4 * 5 * 6);
  EXPECT_EQ(rec.c.bytes_read, 4.0 * (20 + 30));
  EXPECT_EQ(rec.c.bytes_written, 4.0 * 24);
}

TEST(Dispatch, AttrsVisitForEqualityAndPrinting) {
  ConvAttrs a, b;
  a.stride = {2, 2};
  b.stride = {2, 2};
  EXPECT_TRUE(a == b);
  EXPECT_EQ(a.hash(), b.hash());
  b.groups = 2;
  EXPECT_FALSE(a == b);
  EXPECT_NE(a.hash(), b.hash());
  ConvAttrs c = a;
  c.padding = {0, 0};  // a different value, not only a different string
  EXPECT_FALSE(a == c);
  EXPECT_NE(a.hash(), c.hash());
  EXPECT_EQ(a.str(), "stride=[2, 2], padding=[], dilation=[], groups=1");
  b.set("groups", int64_t{1});
  EXPECT_TRUE(a == b);
  EXPECT_THROW(b.set("nope", int64_t{1}), Error);
  EXPECT_THROW(b.set("groups", std::string("x")), Error);
}

}  // namespace
}  // namespace plumb
