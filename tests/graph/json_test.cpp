// Graph JSON: byte-identical round trips for every registered model and a training step, and one
// clear Error for each kind of malformed file.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "common/error_of.h"
#include "plumb/graph.h"
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "plumb/op_attrs.h"
#include "plumb/ops.h"

namespace plumb::graph {
namespace {

using plumb::testing::error_of;

Graph model_forward_on_meta(const std::string& name) {
  const models::ModelInfo& info = models::model_info(name);
  std::shared_ptr<nn::Module> model;
  {
    nn::FactoryScope meta(DType::f32, kMeta);
    model = models::build_model(name);
  }
  model->eval();
  Shape s{2};
  s.insert(s.end(), info.example_shape.begin(), info.example_shape.end());
  Graph g = capture_forward(*model, Tensor::empty(s, info.example_dtype, kMeta));
  g.name = name;
  return g;
}

void expect_same_graph(const Graph& a, const Graph& b) {
  ASSERT_EQ(a.values.size(), b.values.size());
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.values.size(); ++i) {
    EXPECT_EQ(a.values[i].name, b.values[i].name);
    EXPECT_EQ(a.values[i].spec, b.values[i].spec);
    EXPECT_EQ(a.values[i].kind, b.values[i].kind);
    EXPECT_EQ(a.values[i].producer, b.values[i].producer);
    EXPECT_EQ(a.values[i].output_index, b.values[i].output_index);
  }
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const Node &x = a.nodes[i], &y = b.nodes[i];
    EXPECT_EQ(x.op, y.op);
    EXPECT_TRUE(*x.attrs == *y.attrs) << x.op->name << ": " << x.attrs->str() << " vs " << y.attrs->str();
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.outputs, y.outputs);
    EXPECT_EQ(x.phase, y.phase);
    EXPECT_EQ(x.forward_node, y.forward_node);
    EXPECT_EQ(x.modules, y.modules);
    EXPECT_EQ(x.regions, y.regions);
    EXPECT_EQ(x.cost.flops, y.cost.flops);
    EXPECT_EQ(x.cost.bytes_read, y.cost.bytes_read);
    EXPECT_EQ(x.cost.bytes_written, y.cost.bytes_written);
  }
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.outputs, b.outputs);
}

TEST(GraphJson, EveryModelsForwardGraphRoundTripsByteForByte) {
  const std::vector<std::string> names = models::model_names();
  ASSERT_GE(names.size(), 8u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const Graph g = model_forward_on_meta(name);
    ASSERT_GT(g.nodes.size(), 0u);
    const std::string text = to_json(g);
    const Graph back = graph_from_json(text);
    expect_same_graph(g, back);
    EXPECT_EQ(to_json(back), text);
  }
}

TEST(GraphJson, TrainingStepRoundTrips) {
  models::WorkloadOptions o;
  o.batch = 4;
  std::unique_ptr<models::Workload> w = models::make_workload("mlp", o);
  const Graph g = capture_step(*w);
  const std::string text = to_json(g);
  const Graph back = graph_from_json(text);
  expect_same_graph(g, back);
  EXPECT_EQ(to_json(back), text);
  EXPECT_NE(text.find("\"phase\":\"backward\""), std::string::npos);
  EXPECT_NE(text.find("\"phase\":\"optimizer\""), std::string::npos);
  // Parameter data is not in the file: the read graph has specs only.
  const int wid = back.find_value("1.weight");
  ASSERT_GE(wid, 0);
  EXPECT_FALSE(back.value(wid).data.defined());
}

TEST(GraphJson, AttributesOfEveryTypeSurvive) {
  // random ops carry infinite bounds, a dtype and a device; conv carries int lists.
  Graph g;
  g.name = "attrs";
  RandomAttrs r;
  r.shape = {2, 3};
  r.a = 0.25;
  r.b = 1.5;
  r.seed = 42;
  r.offset = 7;
  r.dtype = DType::f64;
  r.device = kMeta;
  ASSERT_TRUE(std::isinf(r.lo));
  const TensorSpec out{{2, 3}, DType::f64, kMeta};
  const int n = g.add_node(op_def("uniform"), std::make_shared<RandomAttrs>(r), {}, std::span(&out, 1));
  g.outputs = {g.node(n).outputs[0]};
  g.validate();
  const std::string text = to_json(g);
  EXPECT_NE(text.find("\"lo\":\"-inf\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"hi\":\"inf\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"dtype\":\"f64\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"device\":\"meta\""), std::string::npos) << text;
  const Graph back = graph_from_json(text);
  EXPECT_TRUE(*back.nodes[0].attrs == r) << back.nodes[0].attrs->str();
  EXPECT_EQ(to_json(back), text);
}

// A valid file to break in one place at a time.
std::string valid_text() {
  Graph g;
  g.name = "t";
  const int x = g.add_value(ValueKind::input, "x", {{1, 1, 4, 4}, DType::f32, kCPU});
  const int w = g.add_value(ValueKind::parameter, "w", {{2, 1, 3, 3}, DType::f32, kCPU});
  ConvAttrs a;
  a.stride = {1, 1};
  a.padding = {1, 1};
  a.dilation = {1, 1};
  a.groups = 1;
  const TensorSpec out{{1, 2, 4, 4}, DType::f32, kCPU};
  const int n = g.add_node(op_def("conv"), std::make_shared<ConvAttrs>(a), {x, w}, std::span(&out, 1));
  g.inputs = {x};
  g.outputs = {g.node(n).outputs[0]};
  g.validate();
  return to_json(g);
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(GraphJson, MalformedFilesFailWithOneClearError) {
  const std::string ok = valid_text();
  graph_from_json(ok);
  auto err = [](const std::string& text) { return error_of([&] { graph_from_json(text); }); };
  auto expect_error = [&](const std::string& text, const std::string& part) {
    const std::string e = err(text);
    EXPECT_NE(e.find(part), std::string::npos) << "want \"" << part << "\", got: " << e;
  };
  expect_error(ok.substr(0, ok.size() / 2), "not valid JSON");
  expect_error("[1, 2]", "expected an object");
  expect_error("", "not valid JSON");
  expect_error(replaced(ok, "\"version\": 1", "\"version\": 2"), "version: this reader knows version 1, got 2");
  expect_error(replaced(ok, "\"plumb-graph\"", "\"onnx\""), "format: expected \"plumb-graph\"");
  expect_error(replaced(ok, "\"op\":\"conv\"", "\"op\":\"conv9d\""), "nodes[0].op: unknown op \"conv9d\"");
  expect_error(replaced(ok, "\"stride\":[1,1]", "\"stride\":\"one\""),
               "nodes[0].attrs.stride: expected a list of integers");
  expect_error(replaced(ok, "\"groups\":1", "\"groups\":1.5"), "nodes[0].attrs.groups: expected an integer");
  expect_error(replaced(ok, "\"groups\":1", "\"groupz\":1"), "nodes[0].attrs.groupz: unknown attribute of conv");
  expect_error(replaced(ok, "\"inputs\":[0,1]", "\"inputs\":[0,9]"), "nodes[0].inputs[1]: no value 9");
  expect_error(replaced(ok, "\"outputs\": [2]", "\"outputs\": [3]"), "outputs[0]: no value 3");
  expect_error(replaced(ok, "\"phase\":\"forward\"", "\"phase\":\"sideways\""), "nodes[0].phase: unknown phase");
  expect_error(replaced(ok, "\"kind\":\"input\"", "\"kind\":\"magic\""), "values[0].kind: unknown kind");
  expect_error(replaced(ok, "\"dtype\":\"f32\"", "\"dtype\":\"f31\""), "values[0].dtype: unknown dtype");
  expect_error(replaced(ok, "\"name\":\"w\"", "\"name\":\"w\",\"colour\":\"red\""),
               "values[1]: unknown field \"colour\"");
  expect_error(replaced(ok, "\"id\":1,", "\"id\":5,"), "values[1].id: expected 1");
  // Structurally fine but inconsistent: the conv's output shape disagrees with its infer.
  expect_error(replaced(ok, "\"shape\":[1,2,4,4]", "\"shape\":[1,2,5,5]"), "conv infers f32(1, 2, 4, 4)");
  // An output of a node that is not an intermediate.
  expect_error(replaced(ok, "\"outputs\":[2]", "\"outputs\":[1]"), "nodes[0].outputs[0]: value 1 ('w') is a parameter");
}

TEST(GraphJson, HandWrittenFilesMayLeaveOutDefaultsAndCosts) {
  const std::string text = R"({"format": "plumb-graph", "version": 1,
    "values": [{"id": 0, "name": "x", "kind": "input", "dtype": "f32", "shape": [2, 8]},
               {"id": 1, "name": "w", "kind": "parameter", "dtype": "f32", "shape": [8, 3]},
               {"id": 2, "name": "y", "kind": "intermediate", "dtype": "f32", "shape": [2, 3]}],
    "nodes": [{"id": 0, "op": "matmul", "inputs": [0, 1], "outputs": [2]}],
    "inputs": [0], "outputs": [2]})";
  const Graph g = graph_from_json(text);
  EXPECT_EQ(g.name, "graph");
  EXPECT_EQ(g.value(0).spec.device, kCPU);
  EXPECT_EQ(g.nodes[0].phase, Phase::forward);
  EXPECT_EQ(g.nodes[0].cost.flops, 2.0 * 2 * 8 * 3);  // one multiply-add per (i, j, k) counts 2
  EXPECT_EQ(g.value(2).name, "y");
}

}  // namespace
}  // namespace plumb::graph
