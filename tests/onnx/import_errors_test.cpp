// ONNX import on bad models: each gets one plumb::Error naming what is wrong, never a crash. The
// models are built here with the ONNX protobuf API.
#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/error_of.h"
#include "plumb/graph.h"
#include "plumb/onnx.h"

namespace plumb {
namespace {

using plumb::testing::error_of;
namespace pb = ::onnx;

pb::ModelProto model(int64_t opset = 17) {
  pb::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("plumb-test");
  pb::OperatorSetIdProto* o = m.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  m.mutable_graph()->set_name("g");
  return m;
}

void add_input(pb::ModelProto& m, const std::string& name, std::vector<int64_t> dims,
               int elem = pb::TensorProto::FLOAT) {
  pb::ValueInfoProto* v = m.mutable_graph()->add_input();
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem);
  for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}

void add_output(pb::ModelProto& m, const std::string& name) {
  pb::ValueInfoProto* v = m.mutable_graph()->add_output();
  v->set_name(name);
  v->mutable_type()->mutable_tensor_type()->set_elem_type(pb::TensorProto::FLOAT);
}

pb::NodeProto* add_node(pb::ModelProto& m, const std::string& op, std::vector<std::string> in,
                        std::vector<std::string> out, const std::string& name = "") {
  pb::NodeProto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& s : in) n->add_input(s);
  for (const auto& s : out) n->add_output(s);
  return n;
}

void add_int64_initializer(pb::ModelProto& m, const std::string& name, const std::vector<int64_t>& values) {
  pb::TensorProto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(pb::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(values.size()));
  for (int64_t v : values) t->add_int64_data(v);
}

std::string import_error(const pb::ModelProto& m, const OnnxImportOptions& o = {}) {
  const std::string bytes = m.SerializeAsString();
  return error_of([&] { import_onnx(bytes, o); });
}

// x (1, 4) -> Relu -> y: the valid model the corruptions start from.
pb::ModelProto relu_model() {
  pb::ModelProto m = model();
  add_input(m, "x", {1, 4});
  add_node(m, "Relu", {"x"}, {"y"}, "relu");
  add_output(m, "y");
  return m;
}

TEST(OnnxImportErrors, ValidModelImports) {
  const graph::Graph g = import_onnx(relu_model().SerializeAsString());
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op->name, "relu");
}

TEST(OnnxImportErrors, TruncatedProtobuf) {
  const std::string bytes = relu_model().SerializeAsString();
  for (size_t keep : {bytes.size() / 2, bytes.size() - 3, size_t{1}}) {
    const std::string e = error_of([&] { import_onnx(bytes.substr(0, keep)); });
    EXPECT_NE(e, "no error") << "kept " << keep << " bytes";
    EXPECT_NE(e.find("onnx"), std::string::npos) << e;
  }
}

TEST(OnnxImportErrors, GarbledProtobuf) {
  const std::string bytes = relu_model().SerializeAsString();
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string b = bytes;
    for (int k = 0; k < 4; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    try {
      import_onnx(b);  // a flip may leave a valid model; it must then import cleanly
    } catch (const Error& e) {
      EXPECT_GT(std::string(e.what()).size(), 5u);
    }
  }
  EXPECT_NE(error_of([] { import_onnx(std::string(64, '\xff')); }), "no error");
  EXPECT_NE(error_of([] { import_onnx(""); }).find("no graph"), std::string::npos);
}

TEST(OnnxImportErrors, Cycle) {
  pb::ModelProto m = model();
  add_input(m, "x", {2});
  add_node(m, "Add", {"x", "b"}, {"a"}, "first");
  add_node(m, "Relu", {"a"}, {"b"}, "second");
  add_output(m, "b");
  const std::string e = import_error(m);
  EXPECT_NE(e.find("cycle"), std::string::npos) << e;
  EXPECT_TRUE(e.find("'first'") != std::string::npos || e.find("'second'") != std::string::npos) << e;
}

TEST(OnnxImportErrors, NodeReadsMissingName) {
  pb::ModelProto m = model();
  add_input(m, "x", {2});
  add_node(m, "Add", {"x", "nowhere"}, {"y"}, "adder");
  add_output(m, "y");
  const std::string e = import_error(m);
  EXPECT_NE(e.find("'adder'"), std::string::npos) << e;
  EXPECT_NE(e.find("'nowhere'"), std::string::npos) << e;
}

TEST(OnnxImportErrors, MissingInitializer) {
  pb::ModelProto m = model();
  add_input(m, "x", {1, 3, 8, 8});
  add_node(m, "Conv", {"x", "conv.weight"}, {"y"}, "conv");
  add_output(m, "y");
  const std::string e = import_error(m);
  EXPECT_NE(e.find("'conv.weight'"), std::string::npos) << e;
  EXPECT_NE(e.find("initializer"), std::string::npos) << e;
}

TEST(OnnxImportErrors, UnknownOpNamesOpAndNode) {
  pb::ModelProto m = model();
  add_input(m, "x", {2});
  add_node(m, "Frobnicate", {"x"}, {"y"}, "frob1");
  add_output(m, "y");
  const std::string e = import_error(m);
  EXPECT_NE(e.find("Frobnicate"), std::string::npos) << e;
  EXPECT_NE(e.find("'frob1'"), std::string::npos) << e;
}

TEST(OnnxImportErrors, OtherDomain) {
  pb::ModelProto m = relu_model();
  m.mutable_graph()->mutable_node(0)->set_domain("com.example");
  const std::string e = import_error(m);
  EXPECT_NE(e.find("com.example"), std::string::npos) << e;
}

TEST(OnnxImportErrors, UnsupportedOpset) {
  for (int64_t opset : {9, 18}) {
    pb::ModelProto m = relu_model();
    m.mutable_opset_import(0)->set_version(opset);
    const std::string e = import_error(m);
    EXPECT_NE(e.find("opset " + std::to_string(opset)), std::string::npos) << e;
  }
  pb::ModelProto m = relu_model();
  m.mutable_opset_import(0)->set_domain("ai.onnx.ml");
  EXPECT_NE(import_error(m).find("no opset of the default domain"), std::string::npos);
}

TEST(OnnxImportErrors, AbsurdInputDims) {
  pb::ModelProto m = model();
  add_input(m, "huge", {int64_t{1} << 20, int64_t{1} << 20, 64});
  add_node(m, "Relu", {"huge"}, {"y"});
  add_output(m, "y");
  const std::string e = import_error(m);
  EXPECT_NE(e.find("'huge'"), std::string::npos) << e;
  EXPECT_NE(e.find("absurd"), std::string::npos) << e;

  OnnxImportOptions o;
  o.inputs["x"] = TensorSpec{{1, -4}, DType::f32, kCPU};
  pb::ModelProto r = relu_model();
  r.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_param("n");
  const std::string e2 = import_error(r, o);
  EXPECT_NE(e2.find("'x'"), std::string::npos) << e2;
}

TEST(OnnxImportErrors, AbsurdReshape) {
  pb::ModelProto m = model();
  add_input(m, "x", {2, 3});
  add_int64_initializer(m, "shape", {int64_t{1} << 30, int64_t{1} << 30, 0});
  add_node(m, "Reshape", {"x", "shape"}, {"y"}, "reshape");
  add_output(m, "y");
  const std::string e = import_error(m);
  EXPECT_NE(e.find("Reshape 'reshape'"), std::string::npos) << e;
}

TEST(OnnxImportErrors, AbsurdConstantOfShape) {
  pb::ModelProto m = model();
  add_input(m, "x", {2});
  add_int64_initializer(m, "shape", {int64_t{1} << 20, int64_t{1} << 20, 16});
  add_node(m, "ConstantOfShape", {"shape"}, {"big"}, "fill");
  add_node(m, "Add", {"x", "big"}, {"y"});
  add_output(m, "y");
  const std::string e = import_error(m);
  EXPECT_NE(e.find("ConstantOfShape 'fill'"), std::string::npos) << e;
  EXPECT_NE(e.find("absurd"), std::string::npos) << e;
}

TEST(OnnxImportErrors, NonConstantReshapeShape) {
  pb::ModelProto m = model();
  add_input(m, "x", {2, 3});
  add_input(m, "s", {2}, pb::TensorProto::INT64);
  add_node(m, "Reshape", {"x", "s"}, {"y"}, "r");
  add_output(m, "y");
  EXPECT_EQ(import_error(m),
            "onnx: Reshape 'r': input 'shape' (value 's') is not constant (data-dependent shapes are not supported)");
  // With the shape's value fixed at import, it folds like an initializer.
  OnnxImportOptions o;
  o.values["s"] = Tensor::from_vector<int64_t>({3, 2}, {2});
  const graph::Graph g = import_onnx(m.SerializeAsString(), o);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.outputs[0]).spec.shape, (Shape{3, 2}));
}

TEST(OnnxImportErrors, InputOptionsChecked) {
  const std::string bytes = relu_model().SerializeAsString();
  OnnxImportOptions unknown;
  unknown.inputs["nope"] = TensorSpec{{1, 4}, DType::f32, kCPU};
  EXPECT_NE(error_of([&] { import_onnx(bytes, unknown); }).find("no input 'nope'"), std::string::npos);
  OnnxImportOptions dtype;
  dtype.inputs["x"] = TensorSpec{{1, 4}, DType::f64, kCPU};
  EXPECT_NE(error_of([&] { import_onnx(bytes, dtype); }).find("is f32 in the model"), std::string::npos);
  OnnxImportOptions shape;
  shape.inputs["x"] = TensorSpec{{1, 5}, DType::f32, kCPU};
  EXPECT_NE(error_of([&] { import_onnx(bytes, shape); }).find("size 4 in dim 1"), std::string::npos);
}

TEST(OnnxImportErrors, UnsupportedAttributeVariant) {
  pb::ModelProto m = model();
  add_input(m, "x", {1, 1, 4});
  pb::NodeProto* n = add_node(m, "Pad", {"x", "pads"}, {"y"}, "pad");
  add_int64_initializer(m, "pads", {0, 0, 1, 0, 0, 1});
  pb::AttributeProto* a = n->add_attribute();
  a->set_name("mode");
  a->set_type(pb::AttributeProto::STRING);
  a->set_s("wrap");
  add_output(m, "y");
  const std::string e = import_error(m);
  EXPECT_NE(e.find("Pad 'pad': mode 'wrap' is not supported"), std::string::npos) << e;
}

TEST(OnnxImportErrors, LoadNamesTheFile) {
  const std::string e = error_of([] { load_onnx("/nonexistent/model.onnx"); });
  EXPECT_NE(e.find("/nonexistent/model.onnx"), std::string::npos) << e;
}

}  // namespace
}  // namespace plumb
