// plumb export: the summary line, the written model (checked, importable at another batch), the
// fixed-batch option, weights from a checkpoint, and one-line errors.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "onnx/tensor_proto.h"
#include "plumb/file_io.h"
#include "plumb/graph.h"
#include "plumb/models.h"
#include "plumb/nn/checkpoint.h"
#include "plumb/onnx.h"
#include "plumb/ops.h"
#include "plumb/random.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;

class ExportCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("plumb_export_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Runs `plumb export <args>`; returns the exit status and sets out_ to stdout and stderr.
  int run(const std::string& args) {
    const std::string cmd = std::string(PLUMB_CLI) + " export " + args + " > " + path("out.txt") + " 2>&1";
    const int rc = std::system(cmd.c_str());
    out_ = read_file(path("out.txt"));
    return rc;
  }

  fs::path dir_;
  std::string out_;
};

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST_F(ExportCli, WritesACheckedModelThatRunsAtAnyBatch) {
  const std::string file = path("mlp.onnx");
  ASSERT_EQ(run("mlp -o " + file), 0) << out_;
  EXPECT_EQ(lines(out_), 1) << out_;
  EXPECT_EQ(out_.rfind("exported mlp (default) to " + file + ": ", 0), 0u) << out_;
  EXPECT_NE(out_.find(" nodes, "), std::string::npos) << out_;
  EXPECT_NE(out_.find(" initializers, "), std::string::npos) << out_;
  EXPECT_NE(out_.find(" parameters, "), std::string::npos) << out_;
  EXPECT_NE(out_.find(" bytes, opset 17, batch dynamic\n"), std::string::npos) << out_;
  const std::string bytes = read_file(file);
  EXPECT_NE(out_.find(std::to_string(bytes.size()) + " bytes"), std::string::npos) << out_;
  EXPECT_NO_THROW(check_onnx(bytes));

  manual_seed(4);
  const Tensor x = normal({3, 1, 28, 28});
  OnnxImportOptions o;
  o.inputs["input"] = x.spec();
  const Tensor inputs[] = {x};
  const std::vector<Tensor> y = graph::execute(import_onnx(bytes, o), inputs);
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].shape(), (Shape{3, 10}));
}

TEST_F(ExportCli, FixedBatchOpsetAndCheckpoint) {
  const std::string fixed = path("fixed.onnx");
  ASSERT_EQ(run("lenet5 -o " + fixed + " --fixed-batch --batch 3 --opset 13"), 0) << out_;
  EXPECT_EQ(lines(out_), 1) << out_;
  EXPECT_NE(out_.find("opset 13, batch fixed at 3\n"), std::string::npos) << out_;
  const ::onnx::ModelProto m = onnx_io::parse_model(read_file(fixed));
  EXPECT_EQ(m.opset_import(0).version(), 13);
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(0).dim_value(), 3);

  // Weights from a checkpoint become the initializers, by parameter name.
  manual_seed(99);
  std::shared_ptr<nn::Module> model = models::build_model("mlp");
  const std::string ckpt = path("mlp.safetensors");
  nn::save_checkpoint(ckpt, *model, nullptr);
  const std::string file = path("ckpt.onnx");
  ASSERT_EQ(run("mlp -o " + file + " --checkpoint " + ckpt + " --seed 5"), 0) << out_;
  const ::onnx::ModelProto c = onnx_io::parse_model(read_file(file));
  std::map<std::string, Tensor> inits;
  for (const auto& t : c.graph().initializer()) inits[t.name()] = onnx_io::tensor_from_proto(t);
  for (const auto& [name, p] : model->named_parameters()) {
    ASSERT_TRUE(inits.count(name)) << name;
    EXPECT_EQ(inits[name].to_vector<float>(), p.to_vector<float>()) << name;
  }
}

// The VAE's latent noise (a `normal` node) is written as RandomNormalLike, with a dynamic batch.
TEST_F(ExportCli, ExportsTheVaeWithItsNoise) {
  const std::string file = path("vae.onnx");
  ASSERT_EQ(run("autoenc -o " + file), 0) << out_;
  EXPECT_NE(out_.find("batch dynamic\n"), std::string::npos) << out_;
  const std::string bytes = read_file(file);
  EXPECT_NO_THROW(check_onnx(bytes));
  const ::onnx::ModelProto m = onnx_io::parse_model(bytes);
  int draws = 0;
  for (const auto& n : m.graph().node()) draws += n.op_type() == "RandomNormalLike";
  EXPECT_EQ(draws, 1);
}

TEST_F(ExportCli, ErrorsAreOneLine) {
  auto fails_with = [&](const std::string& args, const std::string& needle) {
    EXPECT_NE(run(args), 0) << args;
    EXPECT_EQ(lines(out_), 1) << out_;
    EXPECT_EQ(out_.rfind("plumb: error: ", 0), 0u) << out_;
    EXPECT_NE(out_.find(needle), std::string::npos) << out_;
  };
  fails_with("mlp -o " + path("a.onnx") + " --opset 12", "opset 12");
  fails_with("nosuchmodel -o " + path("a.onnx"), "nosuchmodel");
  fails_with("mlp -o " + path("a.onnx") + " --batch 0", "--batch must be positive");
  fails_with("mlp -o " + path("a.onnx") + " --checkpoint " + path("missing.safetensors"), "--checkpoint");
  // A checkpoint of another model names what does not fit.
  nn::save_checkpoint(path("lenet.safetensors"), *models::build_model("lenet5"), nullptr);
  fails_with("mlp -o " + path("a.onnx") + " --checkpoint " + path("lenet.safetensors"), "--checkpoint");
  EXPECT_FALSE(fs::exists(path("a.onnx")));
}

}  // namespace
}  // namespace plumb
