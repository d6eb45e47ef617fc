// Dynamic batch in ONNX export: graphs captured at batch 2 run at other batches after import, with
// reshapes, slices and values made for the batch rewritten to follow it; graphs that bake the batch
// into something else export with a fixed batch and say which node did it.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "onnx/tensor_proto.h"
#include "plumb/error.h"
#include "plumb/graph.h"
#include "plumb/onnx.h"
#include "plumb/op.h"
#include "plumb/ops.h"
#include "plumb/random.h"

namespace plumb {
namespace {

// Builds graphs node by node with plumb's own shape inference.
struct Builder {
  graph::Graph g;
  int input(const std::string& name, Shape s) {
    const int id = g.add_value(graph::ValueKind::input, name, TensorSpec{std::move(s)});
    g.inputs.push_back(id);
    return id;
  }
  int constant(const std::string& name, const Tensor& t) {
    return g.add_value(graph::ValueKind::constant, name, t.spec(), t);
  }
  int parameter(const std::string& name, const Tensor& t) {
    return g.add_value(graph::ValueKind::parameter, name, t.spec(), t);
  }
  int op(const std::string& name, const std::vector<int>& ins, const AttrList& attrs = {}) {
    const OpDef& def = op_def(name);
    std::unique_ptr<Attrs> a = def.make_attrs();
    for (const auto& [k, v] : attrs) a->set(k, v);
    std::vector<TensorSpec> specs;
    for (int v : ins) specs.push_back(g.value(v).spec);
    const std::vector<TensorSpec> out = def.infer(specs, *a);
    const int n = g.add_node(def, std::shared_ptr<const Attrs>(std::move(a)), ins, out);
    return g.node(n).outputs[0];
  }
  void output(int v) { g.outputs.push_back(v); }
};

struct Exported {
  std::string bytes;
  OnnxExportReport report;
  ::onnx::ModelProto model;
};

Exported export_it(const graph::Graph& g, bool dynamic = true) {
  Exported e;
  OnnxExportOptions o;
  o.dynamic_batch = dynamic;
  e.bytes = export_onnx(g, o, &e.report);
  check_onnx(e.bytes);
  e.model = onnx_io::parse_model(e.bytes);
  return e;
}

std::vector<Tensor> run(const std::string& bytes, const std::vector<std::pair<std::string, Tensor>>& inputs) {
  OnnxImportOptions o;
  std::vector<Tensor> xs;
  for (const auto& [name, t] : inputs) {
    o.inputs[name] = t.spec();
    xs.push_back(t);
  }
  return graph::execute(import_onnx(bytes, o), xs);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double d = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) d = std::max(d, std::abs(x[i] - y[i]));
  return d;
}

// The i64 values of the initializer named `name`.
std::vector<int64_t> initializer_ints(const ::onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer())
    if (t.name() == name) return onnx_io::tensor_from_proto(t).to_vector<int64_t>();
  ADD_FAILURE() << "no initializer " << name;
  return {};
}

// The shape inputs of every node of `type`, in order.
std::vector<std::vector<int64_t>> shape_inputs(const ::onnx::ModelProto& m, const std::string& type) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& n : m.graph().node())
    if (n.op_type() == type) out.push_back(initializer_ints(m, n.input(1)));
  return out;
}

int count_type(const ::onnx::ModelProto& m, const std::string& type) {
  return static_cast<int>(std::count_if(m.graph().node().begin(), m.graph().node().end(),
                                        [&](const auto& n) { return n.op_type() == type; }));
}

bool any_dim_param(const ::onnx::ModelProto& m) {
  for (const auto* list : {&m.graph().input(), &m.graph().output()})
    for (const auto& vi : *list)
      for (const auto& d : vi.type().tensor_type().shape().dim())
        if (d.has_dim_param()) return true;
  return false;
}

std::string dim_param(const ::onnx::ValueInfoProto& vi, int axis) {
  return vi.type().tensor_type().shape().dim(axis).dim_param();
}

TEST(ExportBatch, ReshapeCopiesOrInfersTheBatchEntry) {
  Builder b;
  const int x = b.input("x", {2, 3, 4});
  const int flat = b.op("reshape", {x}, {{"shape", std::vector<int64_t>{2, 12}}});        // batch stays on axis 0
  const int rows = b.op("reshape", {flat}, {{"shape", std::vector<int64_t>{6, 4}}});      // batch * 3 rows
  const int back = b.op("reshape", {b.op("relu", {rows})}, {{"shape", std::vector<int64_t>{2, 3, 4}}});
  b.output(back);
  const Exported e = export_it(b.g);
  ASSERT_TRUE(e.report.dynamic_batch) << e.report.fixed_batch_reason;
  // 0 copies the input's batch; -1 infers it where the axis changed size or position.
  EXPECT_EQ(shape_inputs(e.model, "Reshape"), (std::vector<std::vector<int64_t>>{{0, 12}, {-1, 4}, {-1, 3, 4}}));
  EXPECT_EQ(dim_param(e.model.graph().input(0), 0), "batch");
  EXPECT_EQ(dim_param(e.model.graph().output(0), 0), "batch");
  manual_seed(1);
  const Tensor x5 = normal({5, 3, 4});
  const std::vector<Tensor> y = run(e.bytes, {{"x", x5}});
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(max_abs_diff(y[0], relu(x5)), 0.0);
}

// An initial state made with the batch (zeros (B, H)) is rebuilt from the runtime batch, also when
// it reaches the batch through a layer first (h0 @ W_hh^T + b).
TEST(ExportBatch, ValuesMadeForTheBatchFollowIt) {
  manual_seed(2);
  const Tensor w = normal({5, 3}), bias = normal({5}), w2 = normal({5, 4});
  Builder b;
  const int x = b.input("x", {2, 4});
  const int h0 = b.constant("h0", Tensor::zeros({2, 3}));
  const int state = b.op("linear", {h0, b.parameter("w", w), b.parameter("b", bias)});  // (2, 5), from no input
  const int sum = b.op("add", {b.op("linear", {x, b.parameter("w2", w2)}), state});
  const int joined = b.op("concat", {sum, b.constant("pad", Tensor::full({2, 2}, 0.5))}, {{"axis", int64_t{1}}});
  b.output(joined);
  const Exported e = export_it(b.g);
  ASSERT_TRUE(e.report.dynamic_batch) << e.report.fixed_batch_reason;
  EXPECT_EQ(count_type(e.model, "Shape"), 1);  // the batch is read once
  EXPECT_EQ(count_type(e.model, "Expand"), 2);  // h0 and pad
  for (const auto& t : e.model.graph().initializer())
    EXPECT_FALSE(t.dims_size() == 2 && t.dims(0) == 2) << t.name() << " still holds the captured batch";
  for (const int64_t batch : {1, 3}) {
    const Tensor xb = normal({batch, 4});
    const Tensor want =
        concat({add(linear(xb, w2), linear(Tensor::zeros({batch, 3}), w, bias)), Tensor::full({batch, 2}, 0.5)}, 1);
    const std::vector<Tensor> y = run(e.bytes, {{"x", xb}});
    EXPECT_LE(max_abs_diff(y[0], want), 1e-6) << "batch " << batch;
  }
}

// expand of a value without the batch up to the batch size: the shape is read at run time.
TEST(ExportBatch, ExpandToTheBatchReadsIt) {
  manual_seed(3);
  const Tensor row = normal({1, 3});
  Builder b;
  const int x = b.input("x", {2, 3});
  const int e2 = b.op("expand", {b.parameter("row", row)}, {{"shape", std::vector<int64_t>{2, 3}}});
  b.output(b.op("concat", {x, e2}, {{"axis", int64_t{1}}}));
  const Exported e = export_it(b.g);
  ASSERT_TRUE(e.report.dynamic_batch) << e.report.fixed_batch_reason;
  const Tensor x4 = normal({4, 3});
  const std::vector<Tensor> y = run(e.bytes, {{"x", x4}});
  EXPECT_EQ(max_abs_diff(y[0], concat({x4, expand(row, {4, 3})}, 1)), 0.0);
}

TEST(ExportBatch, BakedBatchFallsBackToAFixedBatchAndSaysWhy) {
  // A constant that differs from row to row cannot be rebuilt for another batch.
  Builder b;
  const int x = b.input("x", {2, 4});
  const int c = b.constant("c", Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}));
  b.output(b.op("concat", {x, c}, {{"axis", int64_t{1}}}));
  const Exported e = export_it(b.g);
  EXPECT_FALSE(e.report.dynamic_batch);
  EXPECT_EQ(e.report.batch, 2);
  EXPECT_NE(e.report.fixed_batch_reason.find("node 0 (concat)"), std::string::npos) << e.report.fixed_batch_reason;
  EXPECT_NE(e.report.fixed_batch_reason.find("'c'"), std::string::npos) << e.report.fixed_batch_reason;
  EXPECT_FALSE(any_dim_param(e.model));
  EXPECT_EQ(count_type(e.model, "Shape"), 0);
  // The fixed export still runs at its batch.
  const Tensor x2 = normal({2, 4});
  EXPECT_EQ(max_abs_diff(run(e.bytes, {{"x", x2}})[0],
                         concat({x2, Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3})}, 1)),
            0.0);

  // Taking part of the batch axis.
  Builder s;
  const int sx = s.input("x", {2, 4});
  s.output(s.op("slice", {sx}, {{"axis", int64_t{0}}, {"start", int64_t{0}}, {"stop", int64_t{1}}}));
  const Exported es = export_it(s.g);
  EXPECT_FALSE(es.report.dynamic_batch);
  EXPECT_NE(es.report.fixed_batch_reason.find("slices the batch axis"), std::string::npos)
      << es.report.fixed_batch_reason;

  // An output that does not depend on the batch.
  Builder r;
  r.output(r.op("sum", {r.input("x", {2, 4})}));
  const Exported er = export_it(r.g);
  EXPECT_FALSE(er.report.dynamic_batch);
  EXPECT_NE(er.report.fixed_batch_reason.find("does not depend on the batch"), std::string::npos);
}

TEST(ExportBatch, FixedWhenAskedAndTimeMajorOutputs) {
  Builder b;
  const int x = b.input("x", {2, 5, 3});
  b.output(b.op("permute", {x}, {{"dims", std::vector<int64_t>{1, 0, 2}}}));
  const Exported fixed = export_it(b.g, false);
  EXPECT_FALSE(fixed.report.dynamic_batch);
  EXPECT_EQ(fixed.report.fixed_batch_reason, "a fixed batch was asked for");
  EXPECT_FALSE(any_dim_param(fixed.model));

  // (B, T, H) -> (T, B, H): the output's batch is its axis 1.
  const Exported e = export_it(b.g);
  ASSERT_TRUE(e.report.dynamic_batch) << e.report.fixed_batch_reason;
  EXPECT_EQ(dim_param(e.model.graph().output(0), 1), "batch");
  EXPECT_EQ(e.model.graph().output(0).type().tensor_type().shape().dim(0).dim_value(), 5);
  const Tensor x3 = normal({3, 5, 3});
  EXPECT_EQ(max_abs_diff(run(e.bytes, {{"x", x3}})[0], permute(x3, {1, 0, 2})), 0.0);
}

// The whole batch axis sliced (as a time-major model slices steps) stays dynamic.
TEST(ExportBatch, FullSliceOfTheBatchAxisStaysDynamic) {
  Builder b;
  const int x = b.input("x", {2, 6});
  const int s = b.op("slice", {x}, {{"axis", int64_t{0}}, {"start", int64_t{0}}, {"stop", int64_t{100}}});
  b.output(b.op("slice", {s}, {{"axis", int64_t{1}}, {"start", int64_t{1}}, {"stop", int64_t{5}}, {"step", int64_t{2}}}));
  const Exported e = export_it(b.g);
  ASSERT_TRUE(e.report.dynamic_batch) << e.report.fixed_batch_reason;
  const Tensor x7 = normal({7, 6});
  EXPECT_EQ(max_abs_diff(run(e.bytes, {{"x", x7}})[0], slice(x7, 1, 1, 5, 2)), 0.0);
}

}  // namespace
}  // namespace plumb
