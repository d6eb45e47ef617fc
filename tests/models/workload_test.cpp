// Registered models as workloads: steps run the right phases, parameters move only in training,
// synthetic batches are fixed and seeded, and bad options are clear errors.
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "plumb/data.h"

#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "plumb/workload.h"

namespace plumb {
namespace {

using models::Mode;

// Counts dispatched ops per phase.
class PhaseCounter : public DispatchObserver {
 public:
  void on_op(const OpEvent& e) override { ++counts[static_cast<int>(e.phase)]; }
  std::array<int, 3> counts{};
};

std::vector<float> first_parameter(models::Workload& w) {
  return w.model().named_parameters().front().second.to_vector<float>();
}

std::string error_of(const models::WorkloadOptions& o, const std::string& name = "lenet5") {
  try {
    models::make_workload(name, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Workload, TrainingStepRunsAllPhasesAndUpdatesParameters) {
  auto w = models::make_workload("lenet5", {.mode = Mode::train, .batch = 8});
  EXPECT_EQ(w->batch(), 8);
  EXPECT_EQ(w->mode(), Mode::train);
  EXPECT_EQ(w->variant(), "default");
  EXPECT_EQ(w->data(), "synthetic");
  EXPECT_NE(w->describe().find("lenet5"), std::string::npos) << w->describe();
  const std::vector<float> before = first_parameter(*w);
  PhaseCounter c;
  {
    ObserverScope scope(&c);
    w->step();
  }
  EXPECT_GT(c.counts[0], 0);
  EXPECT_GT(c.counts[1], 0);
  EXPECT_GT(c.counts[2], 0);
  EXPECT_NE(first_parameter(*w), before);
}

TEST(Workload, InferenceStepIsForwardOnlyAndLeavesParameters) {
  auto w = models::make_workload("mlp", {.mode = Mode::infer});
  EXPECT_EQ(w->batch(), 64);  // the model's default
  const std::vector<float> before = first_parameter(*w);
  PhaseCounter c;
  {
    ObserverScope scope(&c);
    w->step();
    w->step();
  }
  EXPECT_GT(c.counts[0], 0);
  EXPECT_EQ(c.counts[1], 0);
  EXPECT_EQ(c.counts[2], 0);
  EXPECT_EQ(first_parameter(*w), before);
}

TEST(Workload, SameSeedSameTrajectory) {
  auto a = models::make_workload("mlp", {.batch = 4, .seed = 7});
  auto b = models::make_workload("mlp", {.batch = 4, .seed = 7});
  auto c = models::make_workload("mlp", {.batch = 4, .seed = 8});
  for (int i = 0; i < 3; ++i) {
    a->step();
    b->step();
    c->step();
  }
  EXPECT_EQ(first_parameter(*a), first_parameter(*b));
  EXPECT_NE(first_parameter(*a), first_parameter(*c));
}

TEST(Workload, DatasetBatchesComeFromFashionMnist) {
  // scripts/setup.sh installs Debian's dataset-fashion-mnist, which this reads.
  auto w = models::make_workload("mlp", {.batch = 32, .data = "dataset"});
  EXPECT_EQ(w->data(), "fashion-mnist");
  const std::vector<float> before = first_parameter(*w);
  w->step();
  EXPECT_NE(first_parameter(*w), before);
}

TEST(Workload, BadOptionsAreClearErrors) {
  EXPECT_NE(error_of({}, "nosuchmodel").find("unknown model 'nosuchmodel'"), std::string::npos);
  EXPECT_NE(error_of({.variant = "huge"}).find("no variant 'huge'"), std::string::npos);
  EXPECT_NE(error_of({.batch = -2}).find("batch must be positive, got -2"), std::string::npos);
  EXPECT_NE(error_of({.data = "imagenet"}).find("unknown data source 'imagenet'"), std::string::npos);
  try {
    models::parse_mode("fly");
    ADD_FAILURE() << "no error for mode 'fly'";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "unknown mode 'fly' (modes: train, infer)");
  }
  EXPECT_EQ(models::parse_mode("infer"), Mode::infer);
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

// The class count of a model's last Linear: the out dimension of its last 2-d parameter.
int64_t head_classes(const nn::Module& m) {
  int64_t out = -1;
  for (const auto& [name, p] : m.named_parameters())
    if (p.dim() == 2) out = p.size(0);
  return out;
}

TEST(ModelRegistry, ImagenetModelsRebuildTheirHeadForAnotherClassCount) {
  nn::FactoryScope meta(DType::f32, kMeta);
  EXPECT_EQ(head_classes(*models::build_model("residual", models::BuildOptions{.variant = "modern", .num_classes = 10})), 10);
  EXPECT_EQ(head_classes(*models::build_model("residual", "modern")), 1000);
  EXPECT_EQ(head_classes(*models::build_model("residual", "fathom")), 1001);
  EXPECT_EQ(head_classes(*models::build_model("alexnet", models::BuildOptions{.variant = "fathom", .num_classes = 7})), 7);
  EXPECT_EQ(head_classes(*models::build_model("vgg", models::BuildOptions{.variant = "modern", .num_classes = 10})), 10);
}

TEST(ModelRegistry, FixedHeadsRefuseAnotherClassCount) {
  try {
    models::build_model("mlp", models::BuildOptions{.num_classes = 5});
    ADD_FAILURE() << "mlp built with 5 classes";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fixed head of 10 classes"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(models::build_model("mlp", models::BuildOptions{.num_classes = 10}));  // its own count is fine
  EXPECT_THROW(models::build_model("residual", models::BuildOptions{.variant = "modern", .num_classes = -1}), Error);
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class ImagenetWorkload : public testing::TempDirTest {};

TEST_F(ImagenetWorkload, DatasetDataReadsShardsFromPlumbImagenetDir) {
  write_synthetic_imagenet(dir_.string(), {.images = 4, .per_shard = 2, .num_classes = 1000});
  ScopedEnv shards("PLUMB_IMAGENET_DIR", dir_.string());
  auto w = models::make_workload("alexnet", {.mode = Mode::infer, .batch = 2, .data = "dataset"});
  EXPECT_EQ(w->data(), "imagenet");
  w->step();
  w->step();  // a second batch, then the loader wraps to the next epoch
  w->step();
}

TEST_F(ImagenetWorkload, GeneratesAndCachesShardsWhenNoneAreGiven) {
  ScopedEnv no_shards("PLUMB_IMAGENET_DIR", "");
  ScopedEnv cache("PLUMB_CACHE_DIR", dir_.string());
  auto w = models::make_workload("alexnet", {.mode = Mode::infer, .batch = 2, .data = "dataset"});
  w->step();
  const ImagenetShards cached((dir_ / "imagenet-synthetic-v1").string(), 1000);
  EXPECT_EQ(cached.size(), 256);
  EXPECT_EQ(cached.example_shape(), (Shape{3, 224, 224}));
}

TEST_F(ImagenetWorkload, ACorruptShardIsAClearError) {
  write_synthetic_imagenet(dir_.string(), {.images = 2, .per_shard = 2, .num_classes = 1000});
  std::filesystem::resize_file(dir_ / "shard-00000.npy", 1000);
  ScopedEnv shards("PLUMB_IMAGENET_DIR", dir_.string());
  try {
    models::make_workload("alexnet", {.mode = Mode::infer, .batch = 2, .data = "dataset"});
    ADD_FAILURE() << "no error for a truncated shard";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shard-00000.npy"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace plumb
