#pragma once
// A workload is a registered model configured to run steps: a training step (batch, forward, loss,
// backward, optimizer update) or an inference step (batch, forward with gradients off). The
// profiler and `plumb profile` / `plumb suite` drive workloads only through this interface.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/nn/module.h"

namespace plumb::models {

enum class Mode : uint8_t { train, infer };
std::string_view mode_name(Mode m);
// "train" or "infer"; throws Error naming the bad value otherwise.
Mode parse_mode(std::string_view s);

struct WorkloadOptions {
  std::string variant;  // "" = the model's default variant
  Mode mode = Mode::train;
  int64_t batch = 0;    // 0 = the model's default batch
  uint64_t seed = 1;    // parameters and synthetic data
  // "synthetic": one seeded batch made once and fed every step (measures compute, like a feed
  // placeholder); "dataset": batches from the model's dataset through a DataLoader, whose fetch
  // time is a "data" region the profiler reports apart from op time.
  std::string data = "synthetic";
};

class Workload {
 public:
  virtual ~Workload() = default;
  // One step. Ops run on the calling thread, through the dispatcher.
  virtual void step() = 0;
  virtual nn::Module& model() = 0;

  int64_t batch() const { return batch_; }
  Mode mode() const { return mode_; }
  const std::string& name() const { return name_; }
  const std::string& variant() const { return variant_; }
  const std::string& data() const { return data_; }  // "synthetic", a dataset or an environment
  // One line: model, variant, mode, batch, optimizer and learning rate, data source.
  const std::string& describe() const { return describe_; }
  // The training loss of the last step (NaN before the first, in inference, or where a workload
  // has no scalar loss), for demos and learning checks; reading it costs no op.
  double last_loss() const { return last_loss_; }

 protected:
  // Sets name, mode, variant ("" = variants.front()) and batch (o.batch, or default_batch when 0).
  void set_identity(const std::string& name, const std::vector<std::string>& variants, const WorkloadOptions& o,
                    int64_t default_batch);
  // "name (variant) mode, batch B": the start of every description.
  std::string describe_prefix() const;

  // Every workload's identity, set by its constructor.
  std::string name_, variant_, data_, describe_;
  Mode mode_ = Mode::train;
  int64_t batch_ = 0;
  double last_loss_ = std::numeric_limits<double>::quiet_NaN();
};

// Builds a registered model as a workload. Throws Error on an unknown name, variant, mode or data
// source, batch < 0, or "dataset" data when the dataset is not installed (naming the package).
std::unique_ptr<Workload> make_workload(const std::string& name, const WorkloadOptions& options = {});

}  // namespace plumb::models
