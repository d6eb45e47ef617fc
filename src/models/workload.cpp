// Registered classifiers as workloads: a training step is batch -> forward -> cross-entropy ->
// backward -> optimizer update; an inference step is batch -> forward with gradients off.
#include "plumb/workload.h"

#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/cache.h"
#include "plumb/data.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "zoo.h"

namespace plumb::models {

std::string_view mode_name(Mode m) { return m == Mode::train ? "train" : "infer"; }

Mode parse_mode(std::string_view s) {
  if (s == "train") return Mode::train;
  if (s == "infer") return Mode::infer;
  fail("unknown mode '", s, "' (modes: train, infer)");
}

namespace {

// Where batches come from: one fixed seeded batch, or a DataLoader over the real dataset.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual Batch next() = 0;
};

class SyntheticBatches final : public BatchSource {
 public:
  SyntheticBatches(const ModelInfo& info, int64_t batch, uint64_t seed) {
    std::vector<int64_t> shape{batch};
    shape.insert(shape.end(), info.example_shape.begin(), info.example_shape.end());
    manual_seed(seed ^ 0x5eed'da7aULL);
    batch_.inputs = normal(Shape(shape));
    std::vector<int64_t> labels(static_cast<size_t>(batch));
    for (size_t i = 0; i < labels.size(); ++i)
      labels[i] = static_cast<int64_t>(philox_uniform_f64(seed, i) * static_cast<double>(info.num_classes)) %
                  info.num_classes;
    batch_.labels = Tensor::from_vector(labels, Shape{batch});
  }
  Batch next() override { return batch_; }

 private:
  Batch batch_;
};

// The shards the ImageNet workloads read with "dataset" data: $PLUMB_IMAGENET_DIR, else synthetic
// shards generated once into plumb's cache (the real set is not obtainable here; docs/workloads.md),
// written to a temporary directory and renamed, so a reader never sees a partial set.
std::string imagenet_dir(int64_t num_classes) {
  namespace fs = std::filesystem;
  if (const char* d = env_value("PLUMB_IMAGENET_DIR")) return d;
  const fs::path dir = cache_path("imagenet-synthetic-v1", "imagenet");
  std::error_code ec;
  if (fs::exists(dir, ec)) return dir.string();
  const fs::path tmp = dir.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  write_synthetic_imagenet(tmp.string(), {.images = 256, .per_shard = 128, .num_classes = num_classes});
  fs::rename(tmp, dir, ec);
  if (ec) {  // another process may have won the race; its set is the same
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    if (!fs::exists(dir, ignored)) fail("imagenet: cannot move generated shards to ", dir.string(), ": ", ec.message());
  }
  return dir.string();
}

std::shared_ptr<const Dataset> dataset_of(const ModelInfo& info) {
  if (info.dataset == "fashion-mnist")
    return std::make_shared<FashionMnist>(Split::train, kFashionMnistDefaultDir, true);
  // Labels below num_classes (1000) are valid for both the 1001-way fathom and 1000-way modern heads.
  if (info.dataset == "imagenet") return imagenet_shards(imagenet_dir(info.num_classes), info.num_classes);
  fail("workload '", info.name, "': no dataset reader for '", info.dataset, "' (use --data synthetic)");
}

class DatasetBatches final : public BatchSource {
 public:
  DatasetBatches(const ModelInfo& info, int64_t batch, uint64_t seed) {
    loader_ = std::make_unique<DataLoader>(dataset_of(info), batch, /*shuffle=*/true, seed, /*drop_last=*/true);
    loader_->start_epoch(epoch_);
  }
  Batch next() override { return next_batch_cycling(*loader_, epoch_); }

 private:
  std::unique_ptr<DataLoader> loader_;
  int64_t epoch_ = 0;
};

class ClassifierWorkload final : public Workload {
 public:
  ClassifierWorkload(const ModelInfo& info, const WorkloadOptions& o) {
    set_identity(info.name, info.variants, o, info.default_batch);
    manual_seed(o.seed);
    model_ = build_model(info.name, variant_);
    if (o.data == "synthetic")
      source_ = std::make_unique<SyntheticBatches>(info, batch_, o.seed);
    else if (o.data == "dataset")
      source_ = std::make_unique<DatasetBatches>(info, batch_, o.seed);
    else
      fail("unknown data source '", o.data, "' (synthetic, dataset)");
    data_ = o.data == "dataset" ? info.dataset : "synthetic";
    if (mode_ == Mode::train) {
      optimizer_ = nn::make_optimizer(info.optimizer, model_->named_parameters(), info.lr);
      model_->train();
    } else {
      model_->eval();
    }
    std::ostringstream os;
    os << describe_prefix();
    if (optimizer_) os << ", " << info.optimizer << " lr " << info.lr << ", cross-entropy";
    os << ", " << data_ << " data";
    describe_ = os.str();
  }

  void step() override {
    Batch b = source_->next();
    if (mode_ == Mode::infer) {
      NoGradScope no_grad;
      (void)(*model_)(b.inputs);
      return;
    }
    optimizer_->zero_grad();
    const Tensor loss = cross_entropy((*model_)(b.inputs), b.labels);
    backward(loss);
    optimizer_->step();
    last_loss_ = loss.item();
  }

  nn::Module& model() override { return *model_; }

 private:
  std::shared_ptr<nn::Module> model_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  std::unique_ptr<BatchSource> source_;
};

}  // namespace

void Workload::set_identity(const std::string& name, const std::vector<std::string>& variants,
                            const WorkloadOptions& o, int64_t default_batch) {
  name_ = name;
  mode_ = o.mode;
  variant_ = o.variant.empty() ? variants.front() : o.variant;
  batch_ = o.batch > 0 ? o.batch : default_batch;
}

std::string Workload::describe_prefix() const {
  std::ostringstream os;
  os << name_ << " (" << variant_ << ") " << mode_name(mode_) << ", batch " << batch_;
  return os.str();
}

Batch next_batch_cycling(DataLoader& loader, int64_t& epoch) {
  RegionScope region("data");
  auto b = loader.next();
  if (!b) {
    loader.start_epoch(++epoch);
    b = loader.next();
  }
  if (!b) fail("workload data: the dataset yields no full batch of ", loader.batch_size());
  return std::move(*b);
}

std::unique_ptr<Workload> make_workload(const std::string& name, const WorkloadOptions& options) {
  const ModelInfo& info = model_info(name);
  if (options.batch < 0) fail("workload '", name, "': batch must be positive, got ", options.batch);
  if (WorkloadFactory custom = workload_factory(name)) return custom(info, options);
  return std::make_unique<ClassifierWorkload>(info, options);
}

}  // namespace plumb::models
