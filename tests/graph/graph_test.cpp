// The graph IR by hand: building, lookups, validation of malformed graphs, totals and DOT.
#include <gtest/gtest.h>

#include <string>

#include "common/error_of.h"
#include "plumb/graph.h"
#include "plumb/op_attrs.h"

namespace plumb::graph {
namespace {

using plumb::testing::error_of;

// x (2, 3) -> relu -> matmul with w (3, 4) -> y
Graph small() {
  Graph g;
  g.name = "small";
  const int x = g.add_value(ValueKind::input, "x", {{2, 3}, DType::f32, kCPU});
  const int w = g.add_value(ValueKind::parameter, "w", {{3, 4}, DType::f32, kCPU}, Tensor::ones({3, 4}));
  const TensorSpec r{{2, 3}, DType::f32, kCPU}, y{{2, 4}, DType::f32, kCPU};
  const int n0 = g.add_node(op_def("relu"), nullptr, {x}, std::span(&r, 1));
  const int n1 = g.add_node(op_def("matmul"), nullptr, {g.node(n0).outputs[0], w}, std::span(&y, 1));
  g.nodes[static_cast<size_t>(n1)].cost.flops = 2 * 2 * 3 * 4;
  g.inputs = {x};
  g.outputs = {g.node(n1).outputs[0]};
  return g;
}

TEST(Graph, BuildsValuesAndNodes) {
  const Graph g = small();
  g.validate();
  ASSERT_EQ(g.values.size(), 4u);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.find_value("x"), 0);
  EXPECT_EQ(g.find_value("w"), 1);
  EXPECT_EQ(g.find_value("nope"), -1);
  EXPECT_EQ(g.value(2).name, "v2");
  EXPECT_EQ(g.value(2).kind, ValueKind::intermediate);
  EXPECT_EQ(g.value(2).producer, 0);
  EXPECT_EQ(g.value(3).producer, 1);
  EXPECT_EQ(g.node(1).inputs, (std::vector<int>{2, 1}));
  EXPECT_EQ(g.parameter_count(), 12);
  EXPECT_EQ(g.total_cost().flops, 48);
  EXPECT_NE(error_of([&] { g.value(4); }).find("no value 4"), std::string::npos);
  EXPECT_NE(error_of([&] { g.node(-1); }).find("no node -1"), std::string::npos);
}

TEST(Graph, AddValueRejectsDuplicatesAndIntermediates) {
  Graph g = small();
  EXPECT_NE(error_of([&] { g.add_value(ValueKind::constant, "x", {{1}, DType::f32, kCPU}); }).find("taken"),
            std::string::npos);
  EXPECT_NE(error_of([&] { g.add_value(ValueKind::intermediate, "z", {{1}, DType::f32, kCPU}); }).find("add_node"),
            std::string::npos);
  EXPECT_NE(error_of([&] { g.add_value(ValueKind::constant, "c", {{2}, DType::f32, kCPU}, Tensor::ones({3})); })
                .find("has data f32(3,)"),
            std::string::npos);
  const TensorSpec s{{2, 3}, DType::f32, kCPU};
  EXPECT_NE(error_of([&] { g.add_node(op_def("relu"), nullptr, {9}, std::span(&s, 1)); }).find("does not exist"),
            std::string::npos);
}

TEST(Graph, ValidateCatchesACycle) {
  Graph g;
  const int x = g.add_value(ValueKind::input, "x", {{2}, DType::f32, kCPU});
  const TensorSpec s{{2}, DType::f32, kCPU};
  const int a = g.add_node(op_def("relu"), nullptr, {x}, std::span(&s, 1));
  const int b = g.add_node(op_def("exp"), nullptr, {g.node(a).outputs[0]}, std::span(&s, 1));
  g.inputs = {x};
  g.validate();
  // a reads b's output, which b computes from a's: a cycle.
  g.nodes[static_cast<size_t>(a)].inputs = {g.node(b).outputs[0]};
  const std::string err = error_of([&] { g.validate(); });
  EXPECT_NE(err.find("node 0 (relu) input 0 reads 'v2' before node 1 produces it"), std::string::npos) << err;
}

TEST(Graph, ValidateCatchesMalformedGraphs) {
  {
    Graph g = small();
    g.values[3].name = "x";
    EXPECT_NE(error_of([&] { g.validate(); }).find("two values are named 'x'"), std::string::npos);
  }
  {
    Graph g = small();
    g.nodes[1].inputs.push_back(0);
    const std::string err = error_of([&] { g.validate(); });
    EXPECT_NE(err.find("node 1 (matmul) has 3 inputs; matmul takes 2"), std::string::npos) << err;
  }
  {
    Graph g = small();
    g.values[3].spec.shape = {2, 5};
    const std::string err = error_of([&] { g.validate(); });
    EXPECT_NE(err.find("output 0 ('v3') is f32(2, 5) but matmul infers f32(2, 4)"), std::string::npos) << err;
  }
  {
    Graph g = small();
    g.values[1].spec.shape = {5, 4};  // the matmul's infer rejects the inner dimensions
    g.values[1].data = Tensor();
    const std::string err = error_of([&] { g.validate(); });
    EXPECT_NE(err.find("node 1 (matmul): "), std::string::npos) << err;
  }
  {
    Graph g = small();
    g.nodes[0].inputs = {7};
    EXPECT_NE(error_of([&] { g.validate(); }).find("input 0 is value 7, which does not exist"), std::string::npos);
  }
  {
    Graph g = small();
    g.outputs = {-1};
    EXPECT_NE(error_of([&] { g.validate(); }).find("graph output 0 is value -1"), std::string::npos);
  }
  {
    Graph g = small();
    g.inputs = {};
    EXPECT_NE(error_of([&] { g.validate(); }).find("input 'x' is not in the graph's input list"), std::string::npos);
  }
  {
    Graph g = small();
    g.values[0].data = Tensor::ones({3});
    g.values[0].kind = ValueKind::parameter;
    g.inputs = {};
    EXPECT_NE(error_of([&] { g.validate(); }).find("holds data f32(3,)"), std::string::npos);
  }
}

TEST(Graph, ExecuteFailsLoudlyOnABadlyEditedGraph) {
  Graph g = small();
  // Edited so that validate() would catch it; the executor must too.
  g.values[3].spec.shape = {2, 5};
  const Tensor x = Tensor::ones({2, 3});
  const std::string err = error_of([&] { execute(g, std::vector<Tensor>{x}); });
  EXPECT_NE(err.find("node 1 (matmul) output 0 is f32(2, 4), the graph says 'v3' is f32(2, 5)"), std::string::npos)
      << err;
  Graph ok = small();
  const std::vector<float> y = execute(ok, std::vector<Tensor>{x})[0].to_vector<float>();
  for (float v : y) EXPECT_EQ(v, 3.0f);  // relu(1) summed over 3 ones
}

TEST(Graph, DotHasEveryNodeAndValue) {
  Graph g = small();
  g.values[0].name = "x \"quoted\"";
  const std::string dot = to_dot(g);
  EXPECT_EQ(dot.rfind("digraph \"small\" {\n", 0), 0u);
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
  EXPECT_NE(dot.find("n0 [shape=box"), std::string::npos);
  EXPECT_NE(dot.find("label=\"relu\\nf32(2, 3)\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("n1 [shape=box"), std::string::npos);
  EXPECT_NE(dot.find("label=\"matmul\\nf32(2, 4)\""), std::string::npos);
  EXPECT_NE(dot.find("v0 [shape=ellipse"), std::string::npos);
  EXPECT_NE(dot.find("x \\\"quoted\\\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("v1 [shape=ellipse"), std::string::npos);
  EXPECT_NE(dot.find("v0 -> n0 [label=\"f32(2, 3)\"]"), std::string::npos);
  EXPECT_NE(dot.find("n0 -> n1"), std::string::npos);
  EXPECT_NE(dot.find("v1 -> n1"), std::string::npos);
  EXPECT_NE(dot.find("n1 -> out0"), std::string::npos);
  // Quotes are balanced on every line (a stray one would break the file).
  size_t start = 0;
  while (start < dot.size()) {
    const size_t end = dot.find('\n', start);
    int quotes = 0;
    for (size_t i = start; i < end; ++i)
      if (dot[i] == '"' && dot[i - 1] != '\\') ++quotes;
    EXPECT_EQ(quotes % 2, 0) << dot.substr(start, end - start);
    start = end + 1;
  }
}

}  // namespace
}  // namespace plumb::graph
