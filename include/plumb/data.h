#pragma once
// Data layer: datasets, batch collation, a seeded prefetching loader, and readers for the
// IDX (MNIST / Fashion-MNIST) and CIFAR-10 binary formats.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "plumb/tensor.h"

namespace plumb {

// One sample: an f32 input and an integer class label.
struct Example {
  Tensor input;
  int64_t label = 0;
};

// A collated batch: inputs (B, ...) and labels i64 (B).
struct Batch {
  Tensor inputs;
  Tensor labels;
};

// Random-access dataset. get() is const and may be called from the loader's prefetch thread,
// so implementations must make concurrent const calls safe.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Example get(int64_t index) const = 0;
};

// Stacks examples of equal shape and dtype into one batch; throws plumb::Error otherwise.
Batch collate(const std::vector<Example>& examples);

// Epoch order of `n` indices: identity without shuffle, otherwise a Fisher-Yates shuffle driven by
// a Philox stream keyed by (seed, epoch) only.
std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch);

// Iterates a dataset in batches. Usage: loader.start_epoch(e); while (auto b = loader.next()) ...
// With prefetch, one background thread fills a bounded queue of ready batches in epoch order, so
// the batches are identical with prefetch on or off. An exception from the dataset reaches the
// caller of next() as plumb::Error. Destroying the loader mid-epoch stops and joins the thread.
class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, int64_t batch_size, bool shuffle = false,
             uint64_t seed = 0, bool drop_last = false, bool prefetch = true,
             int64_t prefetch_depth = 2);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t num_batches() const;  // per epoch
  int64_t batch_size() const { return batch_size_; }
  const Dataset& dataset() const { return *dataset_; }

  // Begins epoch `epoch` (abandoning any epoch in progress).
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch, or nullopt at its end. Starts epoch 0 if none started.
  std::optional<Batch> next();

 private:
  Batch make_batch(int64_t b) const;
  void stop_worker();
  void worker_loop();

  std::shared_ptr<const Dataset> dataset_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  bool drop_last_;
  bool prefetch_;
  int64_t depth_;

  bool started_ = false;
  std::vector<int64_t> order_;
  int64_t next_batch_ = 0;  // next batch index handed to the consumer (or built, without prefetch)

  // Prefetch state, guarded by mu_.
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::exception_ptr error_;
  bool stop_ = false;
  bool producer_done_ = false;
};

// ---- IDX format (big-endian: magic 0x0000 <type> <ndims>, ndims u32 sizes, then data) ----
// Reads a plain or gzip-compressed IDX file (gzip is detected from the content). Type codes map to
// dtypes: 0x08 u8, 0x09 i8, 0x0B i16 -> i32, 0x0C i32, 0x0D f32, 0x0E f64. Errors name the file.
Tensor read_idx(const std::string& path);
// Writes `t` (u8, i8, i32, f32 or f64) as IDX; gzip-compressed when the path ends in ".gz".
void write_idx(const std::string& path, const Tensor& t);

// Pixel preprocessing shared by the image datasets: scale bytes to [0, 1], then optionally
// (x - mean[c]) / std[c] per channel (one value applies to every channel).
struct ImageTransform {
  bool normalize = false;
  std::vector<float> mean;
  std::vector<float> std;
};

// In-memory image dataset: u8 images (N, C, H, W) and labels in [0, num_classes).
class ImageDataset : public Dataset {
 public:
  ImageDataset(Tensor images, std::vector<int64_t> labels, ImageTransform transform = {});
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  Example get(int64_t index) const override;
  const Tensor& images() const { return images_; }  // u8 (N, C, H, W)
  const std::vector<int64_t>& labels() const { return labels_; }

 private:
  Tensor images_;
  std::vector<int64_t> labels_;
  ImageTransform transform_;
};

// Another image dataset's (C, H, W) f32 images centre-padded to size x size with `fill`, a single
// channel repeated to `channels`: a model made for larger, colour images trains on small grey ones.
class PaddedImages : public Dataset {
 public:
  // Throws Error when size is below the images' size or channels differ and the images are not grey.
  PaddedImages(std::shared_ptr<const Dataset> base, int64_t channels, int64_t size, float fill);
  int64_t size() const override { return base_->size(); }
  Example get(int64_t index) const override;

 private:
  std::shared_ptr<const Dataset> base_;
  int64_t channels_, size_;
  float fill_;
};

enum class Split { train, test };

// Fashion-MNIST from its four IDX files (.gz or plain). Inputs are f32 (1, 28, 28) in [0, 1].
inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";
inline constexpr float kFashionMnistMean = 0.2860f;
inline constexpr float kFashionMnistStd = 0.3530f;
class FashionMnist : public ImageDataset {
 public:
  // normalize: subtract kFashionMnistMean, divide by kFashionMnistStd after scaling.
  explicit FashionMnist(Split split, const std::string& dir = kFashionMnistDefaultDir,
                        bool normalize = false);
};
// Loads a matching pair of IDX image (N, H, W) and label (N) files; checks counts and label range.
ImageDataset load_idx_images(const std::string& images_path, const std::string& labels_path,
                             int64_t num_classes, ImageTransform transform = {});

// CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (3 x 32 x 32, channel-major).
// Inputs are f32 (3, 32, 32) in [0, 1].
class Cifar10 : public ImageDataset {
 public:
  explicit Cifar10(const std::vector<std::string>& files, ImageTransform transform = {});
  // data_batch_1..5.bin (train) or test_batch.bin (test) under `dir`.
  static std::vector<std::string> split_files(const std::string& dir, Split split);
};

// ---- ImageNet-shaped shards (format: docs/workloads.md) ----
// A directory of pairs shard-NNNNN.npy, u8 images (N, 3, H, W), and shard-NNNNN.labels.npy, i64
// labels (N) in [0, num_classes); every shard has the same H and W. Image shards are memory-mapped
// and read one example at a time, so a set larger than memory works; labels are loaded whole.
inline constexpr int64_t kImagenetClasses = 1001;  // 1000 classes plus TF Inception's background
inline constexpr int64_t kImagenetSize = 224;
class ImagenetShards : public Dataset {
 public:
  // Checks every shard up front; throws Error naming the file: a missing directory, no shards, a
  // shard without labels, a dtype, shape or size mismatch, a label count or label out of range.
  explicit ImagenetShards(const std::string& dir, int64_t num_classes = kImagenetClasses,
                          ImageTransform transform = {});
  int64_t size() const override;
  Example get(int64_t index) const override;  // f32 (3, H, W): bytes / 255, then the transform
  Shape example_shape() const;                 // (3, H, W)
  int64_t num_shards() const;
  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};
// The shards normalized with torchvision's ImageNet channel mean (0.485, 0.456, 0.406) and std
// (0.229, 0.224, 0.225), for the imagenet workloads' "dataset" data.
std::shared_ptr<Dataset> imagenet_shards(const std::string& dir, int64_t num_classes = kImagenetClasses);

// Writes `images` seeded synthetic images (u8, 3 x height x width) in shards of `per_shard`, labels
// uniform over num_classes; each image is noise over its class's colour, so a model can learn the
// labels. The real ImageNet is not obtainable here; this measures throughput, not accuracy. Fails if
// `dir` already holds shards.
struct SyntheticImagenetOptions {
  int64_t images = 256;
  int64_t per_shard = 128;
  int64_t num_classes = kImagenetClasses;
  int64_t height = kImagenetSize;
  int64_t width = kImagenetSize;
  uint64_t seed = 1;
};
void write_synthetic_imagenet(const std::string& dir, const SyntheticImagenetOptions& options = {});

}  // namespace plumb
