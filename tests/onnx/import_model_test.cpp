// ONNX import on small hand-built models: results equal plumb's ops called directly, constants fold
// away, nodes carry their ONNX names as module paths, and the imported graph profiles like a model.
#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "plumb/error.h"
#include "plumb/file_io.h"
#include "plumb/random.h"
#include "plumb/graph.h"
#include "plumb/npy.h"
#include "plumb/onnx.h"
#include "plumb/ops.h"
#include "plumb/profile.h"
#include "plumb/workload.h"

namespace plumb {
namespace {

namespace pb = ::onnx;

pb::ModelProto model(int64_t opset = 17) {
  pb::ModelProto m;
  m.set_ir_version(8);
  pb::OperatorSetIdProto* o = m.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  m.mutable_graph()->set_name("small");
  return m;
}

void add_value(google::protobuf::RepeatedPtrField<pb::ValueInfoProto>* list, const std::string& name,
               std::vector<int64_t> dims, int elem = pb::TensorProto::FLOAT) {
  pb::ValueInfoProto* v = list->Add();
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem);
  for (int64_t d : dims) {
    if (d < 0)
      t->mutable_shape()->add_dim()->set_dim_param("batch");
    else
      t->mutable_shape()->add_dim()->set_dim_value(d);
  }
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

void set_int(pb::NodeProto* n, const std::string& name, int64_t v) {
  pb::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::INT);
  a->set_i(v);
}

void set_ints(pb::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
  pb::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void add_initializer(pb::ModelProto& m, const std::string& name, const Tensor& t) {
  const std::string bytes = tensor_to_onnx(t, name);
  ASSERT_TRUE(m.mutable_graph()->add_initializer()->ParseFromString(bytes));
}

Tensor seeded(Shape shape, double scale, uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::f32, kCPU);
  uint64_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    set_element_from_double(t, i, scale * (static_cast<double>(s >> 40) / static_cast<double>(1 << 24) - 0.5));
  }
  return t;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(element_as_double(a, i) - element_as_double(b, i)));
  return m;
}

// x (N, 3, 8, 8) -> Conv(4, 3x3, pad 1) -> Relu -> Flatten -> Gemm(transB) -> y (N, 5)
struct SmallCnn {
  Tensor w = seeded({4, 3, 3, 3}, 0.5, 1), b = seeded({4}, 0.2, 2), fw = seeded({5, 256}, 0.1, 3),
         fb = seeded({5}, 0.1, 4);
  pb::ModelProto proto() const {
    pb::ModelProto m = model();
    add_value(m.mutable_graph()->mutable_input(), "x", {-1, 3, 8, 8});
    add_value(m.mutable_graph()->mutable_output(), "y", {-1, 5});
    add_initializer(m, "conv.weight", w);
    add_initializer(m, "conv.bias", b);
    add_initializer(m, "fc.weight", fw);
    add_initializer(m, "fc.bias", fb);
    pb::NodeProto* conv = add_node(m, "Conv", {"x", "conv.weight", "conv.bias"}, {"c"}, "conv1");
    set_ints(conv, "pads", {1, 1, 1, 1});
    set_ints(conv, "kernel_shape", {3, 3});
    add_node(m, "Relu", {"c"}, {"r"}, "relu1");
    add_node(m, "Flatten", {"r"}, {"f"});  // unnamed: "Flatten_2"
    pb::NodeProto* gemm = add_node(m, "Gemm", {"f", "fc.weight", "fc.bias"}, {"y"}, "fc");
    set_int(gemm, "transB", 1);
    return m;
  }
  Tensor direct(const Tensor& x) const {
    Tensor c = add(conv(x, w, {1, 1}, {1, 1}), reshape(b, {1, 4, 1, 1}));
    return add(matmul(flatten(relu(c), 1), transpose(fw, 0, 1)), fb);
  }
};

TEST(OnnxImport, SmallCnnMatchesDirectOps) {
  const SmallCnn net;
  OnnxImportOptions o;
  o.symbolic_dim = 2;
  const graph::Graph g = import_onnx(net.proto().SerializeAsString(), o);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
  EXPECT_EQ(g.value(g.inputs[0]).spec, (TensorSpec{{2, 3, 8, 8}, DType::f32, kCPU}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.value(g.outputs[0]).name, "y");
  EXPECT_EQ(g.parameter_count(), 4 * 27 + 4 + 5 * 256 + 5);
  const Tensor x = seeded({2, 3, 8, 8}, 2.0, 9);
  const std::vector<Tensor> y = graph::execute(g, std::vector<Tensor>{x});
  ASSERT_EQ(y.size(), 1u);
  EXPECT_LT(max_abs_diff(y[0], net.direct(x)), 1e-5);
}

TEST(OnnxImport, NodeModulePathsAreOnnxNames) {
  const graph::Graph g = import_onnx(SmallCnn().proto().SerializeAsString());
  std::set<std::string> seen;
  for (const graph::Node& n : g.nodes) {
    ASSERT_EQ(n.modules.size(), 1u) << n.op->name;
    seen.insert(n.modules[0]);
    if (n.op->name == "conv") EXPECT_EQ(n.modules[0], "conv1");
    if (n.op->name == "relu") EXPECT_EQ(n.modules[0], "relu1");
  }
  EXPECT_EQ(seen, (std::set<std::string>{"conv1", "relu1", "Flatten_2", "fc"}));
}

// x (2, 3, 4): Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape gives (2, 12).
TEST(OnnxImport, ShapeArithmeticFoldsAway) {
  pb::ModelProto m = model();
  add_value(m.mutable_graph()->mutable_input(), "x", {2, 3, 4});
  add_value(m.mutable_graph()->mutable_output(), "y", {2, 12});
  add_initializer(m, "zero", Tensor::from_vector<int64_t>({0}, {}));
  add_initializer(m, "axes", Tensor::from_vector<int64_t>({0}, {1}));
  add_initializer(m, "minus_one", Tensor::from_vector<int64_t>({-1}, {1}));
  add_node(m, "Shape", {"x"}, {"s"}, "shape");
  add_node(m, "Gather", {"s", "zero"}, {"n"}, "gather");
  add_node(m, "Unsqueeze", {"n", "axes"}, {"n1"}, "unsqueeze");
  pb::NodeProto* cat = add_node(m, "Concat", {"n1", "minus_one"}, {"target"}, "concat");
  set_int(cat, "axis", 0);
  add_node(m, "Reshape", {"x", "target"}, {"y"}, "reshape");
  const graph::Graph g = import_onnx(m.SerializeAsString());
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op->name, "reshape");
  EXPECT_EQ(g.nodes[0].modules, (std::vector<std::string>{"reshape"}));
  for (const graph::Value& v : g.values) EXPECT_NE(v.kind, graph::ValueKind::constant) << v.name;
  const Tensor x = seeded({2, 3, 4}, 1.0, 5);
  const Tensor y = graph::execute(g, std::vector<Tensor>{x})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  EXPECT_EQ(max_abs_diff(y, reshape(x, {2, 12})), 0.0);
}

// Constants a converter makes (LeakyRelu's slope) and folded tensors reach the graph with data.
TEST(OnnxImport, ConstantsCarryData) {
  pb::ModelProto m = model();
  add_value(m.mutable_graph()->mutable_input(), "x", {6});
  add_value(m.mutable_graph()->mutable_output(), "y", {6});
  add_value(m.mutable_graph()->mutable_output(), "k", {3});
  pb::NodeProto* lr = add_node(m, "LeakyRelu", {"x"}, {"y"}, "leaky");
  pb::AttributeProto* a = lr->add_attribute();
  a->set_name("alpha");
  a->set_type(pb::AttributeProto::FLOAT);
  a->set_f(0.25f);
  pb::NodeProto* c = add_node(m, "Constant", {}, {"k"}, "konst");
  pb::AttributeProto* v = c->add_attribute();
  v->set_name("value_floats");
  v->set_type(pb::AttributeProto::FLOATS);
  for (float f : {1.5f, -2.0f, 3.25f}) v->add_floats(f);
  const graph::Graph g = import_onnx(m.SerializeAsString());
  for (const graph::Value& val : g.values)
    if (val.kind == graph::ValueKind::constant || val.kind == graph::ValueKind::parameter)
      EXPECT_TRUE(val.data.defined()) << val.name;
  const Tensor x = Tensor::from_vector<float>({-4, -1, 0, 1, 2, -8}, {6});
  const std::vector<Tensor> out = graph::execute(g, std::vector<Tensor>{x});
  EXPECT_EQ(out[0].to_vector<float>(), (std::vector<float>{-1, -0.25f, 0, 1, 2, -2}));
  EXPECT_EQ(out[1].to_vector<float>(), (std::vector<float>{1.5f, -2.0f, 3.25f}));
  EXPECT_EQ(g.value(g.outputs[1]).name, "k");
}

TEST(OnnxImport, SupportedOpsSortedAndCoverTheCore) {
  const std::vector<std::string> ops = onnx_supported_ops();
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
  for (const char* op : {"Conv", "Gemm", "MatMul", "Relu", "Reshape", "Softmax", "BatchNormalization", "MaxPool",
                         "Concat", "Slice", "Gather", "LayerNormalization"})
    EXPECT_TRUE(std::binary_search(ops.begin(), ops.end(), op)) << op;
  EXPECT_FALSE(std::binary_search(ops.begin(), ops.end(), "Sin"));  // plumb has no sine
}

TEST(OnnxImport, ModelInputs) {
  const std::vector<OnnxInputInfo> in = onnx_model_inputs(SmallCnn().proto().SerializeAsString());
  ASSERT_EQ(in.size(), 1u);  // initializers are not inputs
  EXPECT_EQ(in[0].name, "x");
  EXPECT_EQ(in[0].dtype, DType::f32);
  EXPECT_EQ(in[0].shape, (Shape{-1, 3, 8, 8}));
}

void set_float(pb::NodeProto* n, const std::string& name, float v) {
  pb::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::FLOAT);
  a->set_f(v);
}

// x (2, 5) f32 -> RandomUniformLike(dtype double, low -2, high 3) -> y (2, 5) f64.
pb::ModelProto uniform_like(const float* seed) {
  pb::ModelProto m = model();
  add_value(m.mutable_graph()->mutable_input(), "x", {2, 5});
  add_value(m.mutable_graph()->mutable_output(), "y", {2, 5}, pb::TensorProto::DOUBLE);
  pb::NodeProto* n = add_node(m, "RandomUniformLike", {"x"}, {"y"}, "noise");
  set_int(n, "dtype", pb::TensorProto::DOUBLE);
  set_float(n, "low", -2.0f);
  set_float(n, "high", 3.0f);
  if (seed) set_float(n, "seed", *seed);
  return m;
}

// The draw takes the input's shape and the attribute's dtype and range, and stays a node (no fold);
// seed 5 draws plumb's (5, offset 0), and without a seed the process generator supplies one.
TEST(OnnxImport, RandomUniformLike) {
  const float five = 5.0f;
  const graph::Graph g = import_onnx(uniform_like(&five).SerializeAsString());
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op->name, "uniform");
  EXPECT_EQ(g.nodes[0].modules, (std::vector<std::string>{"noise"}));
  const Tensor x = seeded({2, 5}, 1.0, 3);
  const Tensor y = graph::execute(g, std::vector<Tensor>{x}).at(0);
  EXPECT_EQ(y.shape(), (Shape{2, 5}));
  EXPECT_EQ(y.dtype(), DType::f64);
  const std::vector<double> v = y.to_vector<double>();
  for (double e : v) {
    EXPECT_GE(e, -2.0);
    EXPECT_LT(e, 3.0);
  }
  EXPECT_GT(*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end()), 1.0);
  manual_seed(5);
  EXPECT_EQ(max_abs_diff(y, uniform({2, 5}, -2, 3, DType::f64)), 0.0);
  // Executing again replays the same recorded draw.
  EXPECT_EQ(max_abs_diff(graph::execute(g, std::vector<Tensor>{x}).at(0), y), 0.0);

  manual_seed(8);
  const graph::Graph unseeded = import_onnx(uniform_like(nullptr).SerializeAsString());
  const Tensor u = graph::execute(unseeded, std::vector<Tensor>{x}).at(0);
  manual_seed(8);
  EXPECT_EQ(max_abs_diff(u, uniform({2, 5}, -2, 3, DType::f64)), 0.0);
  EXPECT_GT(max_abs_diff(u, y), 0.0);
}

// Bernoulli(p) with p in {0, 1} is certain; p = 0.5 gives both values; the output dtype is `dtype`.
TEST(OnnxImport, BernoulliAndRandomNormal) {
  pb::ModelProto m = model(15);
  add_value(m.mutable_graph()->mutable_input(), "p", {4, 50});
  add_value(m.mutable_graph()->mutable_output(), "y", {4, 50}, pb::TensorProto::INT32);
  add_value(m.mutable_graph()->mutable_output(), "z", {3, 7});
  pb::NodeProto* b = add_node(m, "Bernoulli", {"p"}, {"y"}, "coin");
  set_int(b, "dtype", pb::TensorProto::INT32);
  set_float(b, "seed", 2.0f);
  pb::NodeProto* r = add_node(m, "RandomNormal", {}, {"z"}, "gauss");
  set_ints(r, "shape", {3, 7});
  set_float(r, "mean", 10.0f);
  set_float(r, "scale", 0.5f);
  set_float(r, "seed", 2.0f);
  const graph::Graph g = import_onnx(m.SerializeAsString());
  std::vector<float> pv;
  for (int i = 0; i < 200; ++i) pv.push_back(i < 50 ? 0.0f : i < 100 ? 1.0f : 0.5f);
  const std::vector<Tensor> out = graph::execute(g, std::vector<Tensor>{Tensor::from_vector(pv, {4, 50})});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].dtype(), DType::i32);
  const std::vector<double> y = out[0].to_vector<double>();
  int ones = 0;
  for (int i = 0; i < 200; ++i) {
    if (i < 50) EXPECT_EQ(y[static_cast<size_t>(i)], 0.0) << i;
    else if (i < 100) EXPECT_EQ(y[static_cast<size_t>(i)], 1.0) << i;
    else ones += y[static_cast<size_t>(i)] == 1.0;
  }
  EXPECT_GT(ones, 20);
  EXPECT_LT(ones, 80);
  manual_seed(2);
  EXPECT_EQ(max_abs_diff(out[1], normal({3, 7}, 10, 0.5)), 0.0);

  pb::ModelProto bad = model();
  add_value(bad.mutable_graph()->mutable_output(), "z", {3});
  add_node(bad, "RandomNormal", {}, {"z"}, "shapeless");
  try {
    import_onnx(bad.SerializeAsString());
    ADD_FAILURE() << "a RandomNormal without a shape imported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("RandomNormal 'shapeless': attribute 'shape' is missing"), std::string::npos)
        << e.what();
  }
}

class OnnxFiles : public plumb::testing::TempDirTest {};

// The workload behind `plumb profile model.onnx`: --batch sets the symbolic dim, ops are attributed
// to ONNX node names.
TEST_F(OnnxFiles, WorkloadProfilesByNode) {
  const std::string path = this->path("cnn.onnx");
  write_file_atomic(path, SmallCnn().proto().SerializeAsString());
  OnnxImportOptions o;
  o.symbolic_dim = 3;
  std::unique_ptr<models::Workload> w = make_onnx_workload(path, o);
  EXPECT_EQ(w->batch(), 3);
  EXPECT_EQ(w->mode(), models::Mode::infer);
  EXPECT_EQ(w->name(), "cnn");
  profile::ProtocolOptions p;
  p.steps = 3;
  const profile::Profile prof = profile::profile_workload(*w, p);
  std::set<std::string> modules;
  for (const profile::OpRecord& r : prof.ops) modules.insert(r.module);
  EXPECT_TRUE(modules.count("conv1"));
  EXPECT_TRUE(modules.count("fc"));
}

// `plumb run`: one bare input, outputs written as .npy equal to a direct computation.
TEST_F(OnnxFiles, CliRunWritesOutputs) {
  const SmallCnn net;
  const std::string model_path = path("cnn.onnx"), x_path = path("x.npy"), out_dir = path("out");
  write_file_atomic(model_path, net.proto().SerializeAsString());
  const Tensor x = seeded({2, 3, 8, 8}, 2.0, 11);
  write_npy(x_path, x);
  const std::string cmd = std::string(PLUMB_CLI) + " run " + model_path + " --input " + x_path + " --output-dir " +
                          out_dir + " > " + path("stdout.txt") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(path("stdout.txt"));
  const Tensor y = read_npy(out_dir + "/y.npy");
  EXPECT_LT(max_abs_diff(y, net.direct(x)), 1e-5);
  EXPECT_NE(read_file(path("stdout.txt")).find("output 'y': f32(2, 5)"), std::string::npos);

  // Bad invocations: one line on stderr, exit 1.
  auto fails_with = [&](const std::string& args, const std::string& needle) {
    const std::string c = std::string(PLUMB_CLI) + " run " + args + " > " + path("err.txt") + " 2>&1";
    const int rc = std::system(c.c_str());
    const std::string out = read_file(path("err.txt"));
    EXPECT_NE(rc, 0) << args;
    EXPECT_NE(out.find(needle), std::string::npos) << out;
  };
  fails_with(model_path + " --input nope=" + x_path, "no input 'nope'");
  fails_with(model_path, "missing input 'x'");
  fails_with(path("absent.onnx") + " --input " + x_path, "absent.onnx");
  write_npy(path("x64.npy"), cast(x, DType::f64));
  fails_with(model_path + " --input x=" + path("x64.npy"), "is f32 in the model");
  write_file_atomic(path("bad.npy"), "not a numpy file");
  fails_with(model_path + " --input x=" + path("bad.npy"), "bad.npy");
}

}  // namespace
}  // namespace plumb
