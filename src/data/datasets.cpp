// Image datasets: in-memory u8 images, Fashion-MNIST from IDX files, CIFAR-10 binary batches.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "plumb/data.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;

// A contiguous u8 tensor reinterpreted with a new shape of the same element count.
Tensor reshape_contiguous(const Tensor& t, Shape shape) {
  return Tensor::view_of(t, shape, contiguous_strides(shape), t.offset());
}

ImageDataset read_cifar10(const std::vector<std::string>& files, ImageTransform transform) {
  constexpr int64_t kPixels = 3 * 32 * 32;
  constexpr int64_t kRecord = 1 + kPixels;
  PLUMB_CHECK(!files.empty(), "Cifar10: no files given");
  std::vector<std::vector<char>> contents;
  int64_t total = 0;
  for (const auto& path : files) {
    std::error_code ec;
    PLUMB_CHECK(fs::is_regular_file(path, ec), "Cifar10: ", path, ": no such file");
    std::ifstream f(path, std::ios::binary);
    PLUMB_CHECK(f.good(), "Cifar10: ", path, ": cannot open");
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto size = static_cast<int64_t>(bytes.size());
    PLUMB_CHECK(size > 0, "Cifar10: ", path, ": empty file");
    PLUMB_CHECK(size % kRecord == 0, "Cifar10: ", path, ": size ", size,
                " is not a whole number of 3073-byte records (truncated?)");
    total += size / kRecord;
    contents.push_back(std::move(bytes));
  }
  Tensor images = Tensor::empty({total, 3, 32, 32}, DType::u8);
  std::vector<int64_t> labels;
  labels.reserve(static_cast<size_t>(total));
  auto* dst = images.data<uint8_t>();
  for (size_t f = 0; f < contents.size(); ++f) {
    const auto& bytes = contents[f];
    const int64_t records = static_cast<int64_t>(bytes.size()) / kRecord;
    for (int64_t r = 0; r < records; ++r) {
      const auto label = static_cast<unsigned char>(bytes[r * kRecord]);
      PLUMB_CHECK(label < 10, "Cifar10: ", files[f], ": record ", r, " has label ", int{label},
                  ", expected 0..9");
      labels.push_back(label);
      std::memcpy(dst, bytes.data() + r * kRecord + 1, kPixels);
      dst += kPixels;
    }
  }
  return ImageDataset(images, std::move(labels), std::move(transform));
}

// The .gz file if present, else the uncompressed one; fails naming the path and the package.
std::string fashion_file(const std::string& dir, const std::string& stem) {
  const fs::path gz = fs::path(dir) / (stem + ".gz");
  const fs::path plain = fs::path(dir) / stem;
  std::error_code ec;
  if (fs::is_regular_file(gz, ec)) return gz.string();
  if (fs::is_regular_file(plain, ec)) return plain.string();
  fail("FashionMnist: ", gz.string(), " not found (nor ", plain.string(),
       "); install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
       " or pass the directory that holds the IDX files");
}

ImageDataset read_fashion(Split split, const std::string& dir, bool normalize) {
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const std::string images = fashion_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels = fashion_file(dir, prefix + "-labels-idx1-ubyte");
  ImageTransform transform;
  if (normalize) transform = {true, {kFashionMnistMean}, {kFashionMnistStd}};
  return load_idx_images(images, labels, 10, transform);
}

}  // namespace

ImageDataset::ImageDataset(Tensor images, std::vector<int64_t> labels, ImageTransform transform)
    : images_(std::move(images)), labels_(std::move(labels)), transform_(std::move(transform)) {
  PLUMB_CHECK(images_.defined() && !images_.is_meta(), "ImageDataset: images have no data");
  PLUMB_CHECK(images_.dtype() == DType::u8 && images_.dim() == 4, "ImageDataset: images must be u8 ",
              "(N, C, H, W), got ", images_.spec().str());
  PLUMB_CHECK(images_.is_contiguous(), "ImageDataset: images must be contiguous");
  PLUMB_CHECK(images_.size(0) == static_cast<int64_t>(labels_.size()), "ImageDataset: ",
              images_.size(0), " images but ", labels_.size(), " labels");
  if (transform_.normalize) {
    const int64_t c = images_.size(1);
    for (const auto* v : {&transform_.mean, &transform_.std})
      PLUMB_CHECK(v->size() == 1 || static_cast<int64_t>(v->size()) == c, "ImageDataset: ",
                  "normalization needs 1 or ", c, " mean/std values, got ", v->size());
    for (float s : transform_.std)
      PLUMB_CHECK(s > 0.0f, "ImageDataset: normalization std must be positive, got ", s);
  }
}

Example ImageDataset::get(int64_t index) const {
  PLUMB_CHECK(index >= 0 && index < size(), "ImageDataset: index ", index, " out of range [0, ",
              size(), ")");
  const int64_t c = images_.size(1);
  const int64_t hw = images_.size(2) * images_.size(3);
  Tensor x = Tensor::empty({c, images_.size(2), images_.size(3)}, DType::f32);
  const uint8_t* src = images_.data<uint8_t>() + index * c * hw;
  float* dst = x.data<float>();
  // x: (C, H, W); bytes scale to [0, 1], then per-channel (x - mean) / std.
  for (int64_t ch = 0; ch < c; ++ch) {
    float mean = 0.0f, inv_std = 1.0f;
    if (transform_.normalize) {
      mean = transform_.mean.size() == 1 ? transform_.mean[0] : transform_.mean[ch];
      inv_std = 1.0f / (transform_.std.size() == 1 ? transform_.std[0] : transform_.std[ch]);
    }
    for (int64_t k = 0; k < hw; ++k)
      dst[ch * hw + k] = (static_cast<float>(src[ch * hw + k]) / 255.0f - mean) * inv_std;
  }
  return {x, labels_[index]};
}

PaddedImages::PaddedImages(std::shared_ptr<const Dataset> base, int64_t channels, int64_t size, float fill)
    : base_(std::move(base)), channels_(channels), size_(size), fill_(fill) {
  PLUMB_CHECK(channels_ > 0 && size_ > 0, "PaddedImages: channels and size must be positive, got ", channels_,
              " and ", size_);
  if (base_->size() == 0) return;
  const Tensor x = base_->get(0).input;  // every example has the first one's shape
  PLUMB_CHECK(x.dim() == 3, "PaddedImages: images must be (C, H, W), got ", shape_str(x.shape()));
  PLUMB_CHECK(x.size(0) == channels_ || x.size(0) == 1, "PaddedImages: cannot repeat ", x.size(0),
              " channels to ", channels_);
  PLUMB_CHECK(x.size(1) <= size_ && x.size(2) <= size_, "PaddedImages: images of ", x.size(1), "x", x.size(2),
              " do not fit in ", size_, "x", size_);
}

Example PaddedImages::get(int64_t index) const {
  Example e = base_->get(index);
  const Tensor& src = e.input;
  PLUMB_CHECK(src.is_contiguous() && src.dtype() == DType::f32, "PaddedImages: example ", index,
              " is not a contiguous f32 image");
  const int64_t c = src.size(0), h = src.size(1), w = src.size(2);
  const int64_t top = (size_ - h) / 2, left = (size_ - w) / 2;
  Tensor x = Tensor::empty({channels_, size_, size_}, DType::f32);
  float* dst = x.data<float>();
  const float* in = src.data<float>();
  // x: (channels, size, size) <- src: (c, h, w) at (top, left); a grey channel feeds every output one.
  std::fill(dst, dst + x.numel(), fill_);
  for (int64_t ch = 0; ch < channels_; ++ch) {
    const float* plane = in + (c == 1 ? 0 : ch) * h * w;
    for (int64_t y = 0; y < h; ++y)
      std::memcpy(dst + (ch * size_ + top + y) * size_ + left, plane + y * w, static_cast<size_t>(w) * sizeof(float));
  }
  e.input = x;
  return e;
}

ImageDataset load_idx_images(const std::string& images_path, const std::string& labels_path,
                             int64_t num_classes, ImageTransform transform) {
  Tensor images = read_idx(images_path);
  Tensor labels = read_idx(labels_path);
  PLUMB_CHECK(images.dtype() == DType::u8 && images.dim() == 3, "load_idx_images: ", images_path,
              ": expected u8 images (N, H, W), got ", images.spec().str());
  PLUMB_CHECK(labels.dtype() == DType::u8 && labels.dim() == 1, "load_idx_images: ", labels_path,
              ": expected u8 labels (N), got ", labels.spec().str());
  PLUMB_CHECK(images.size(0) == labels.size(0), "load_idx_images: ", images_path, " has ",
              images.size(0), " images but ", labels_path, " has ", labels.size(0), " labels");
  std::vector<int64_t> values(static_cast<size_t>(labels.size(0)));
  const uint8_t* l = labels.data<uint8_t>();
  for (size_t i = 0; i < values.size(); ++i) {
    PLUMB_CHECK(l[i] < num_classes, "load_idx_images: ", labels_path, ": label ", int{l[i]},
                " at index ", i, " is outside 0..", num_classes - 1);
    values[i] = l[i];
  }
  Tensor nchw = reshape_contiguous(images, {images.size(0), 1, images.size(1), images.size(2)});
  return ImageDataset(nchw, std::move(values), std::move(transform));
}

FashionMnist::FashionMnist(Split split, const std::string& dir, bool normalize)
    : ImageDataset(read_fashion(split, dir, normalize)) {}

Cifar10::Cifar10(const std::vector<std::string>& files, ImageTransform transform)
    : ImageDataset(read_cifar10(files, std::move(transform))) {}

std::vector<std::string> Cifar10::split_files(const std::string& dir, Split split) {
  std::vector<std::string> files;
  if (split == Split::test) {
    files.push_back((fs::path(dir) / "test_batch.bin").string());
  } else {
    for (int i = 1; i <= 5; ++i)
      files.push_back((fs::path(dir) / ("data_batch_" + std::to_string(i) + ".bin")).string());
  }
  return files;
}

}  // namespace plumb
