// ImageNet-shaped data: a directory of .npy shard pairs (docs/workloads.md), read through memory
// maps, and a generator of seeded synthetic shards.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <utility>

#include "plumb/data.h"
#include "plumb/error.h"
#include "plumb/npy.h"
#include "plumb/random.h"

namespace plumb {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "shard-";
constexpr std::string_view kImagesSuffix = ".npy";
constexpr std::string_view kLabelsSuffix = ".labels.npy";

std::string shard_stem(int64_t i) {
  std::string digits = std::to_string(i);
  if (digits.size() < 5) digits.insert(0, 5 - digits.size(), '0');
  return std::string(kPrefix) + digits;
}

// "shard-00012.npy" -> 12 for image shards; -1 for anything else (labels files, other names).
int64_t image_shard_number(const std::string& name) {
  if (name.size() <= kPrefix.size() + kImagesSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kImagesSuffix) || name.ends_with(kLabelsSuffix))
    return -1;
  const std::string digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kImagesSuffix.size());
  if (digits.size() < 5 || digits.size() > 12 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoll(digits);
}

// What an image shard's .npy header says, and where its data starts.
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
  size_t data_offset = 0;
};

// Reads only the header of a .npy file (format 1.0-3.0), so a shard's data is never read whole.
NpyHeader read_npy_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open: ", std::strerror(errno));
  char prefix[12] = {};
  in.read(prefix, 10);
  if (in.gcount() < 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0) fail(path, ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(prefix[6]);
  if (major < 1 || major > 3) fail(path, ": unsupported .npy format version ", major);
  const auto byte = [&](int i) { return static_cast<size_t>(static_cast<unsigned char>(prefix[i])); };
  size_t header_len = byte(8) | byte(9) << 8;
  size_t start = 10;
  if (major >= 2) {
    in.read(prefix + 10, 2);
    if (in.gcount() < 2) fail(path, ": truncated header");
    header_len |= byte(10) << 16 | byte(11) << 24;
    start = 12;
  }
  if (header_len > (1u << 20)) fail(path, ": header of ", header_len, " bytes is implausibly large");
  std::string text(header_len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  if (static_cast<size_t>(in.gcount()) != header_len) fail(path, ": truncated header");

  NpyHeader h;
  h.data_offset = start + header_len;
  auto value_after = [&](const char* key) {
    const size_t k = text.find(key);
    if (k == std::string::npos) fail(path, ": header has no ", key, ": ", text);
    const size_t colon = text.find(':', k);
    if (colon == std::string::npos) fail(path, ": unparsable header: ", text);
    return colon + 1;
  };
  size_t at = text.find_first_of("'\"", value_after("'descr'"));
  const size_t end = at == std::string::npos ? at : text.find(text[at], at + 1);
  if (end == std::string::npos) fail(path, ": unparsable descr in header: ", text);
  h.descr = text.substr(at + 1, end - at - 1);
  at = text.find_first_not_of(' ', value_after("'fortran_order'"));
  h.fortran_order = at != std::string::npos && text.compare(at, 4, "True") == 0;
  at = text.find('(', value_after("'shape'"));
  const size_t close = at == std::string::npos ? at : text.find(')', at);
  if (close == std::string::npos) fail(path, ": unparsable shape in header: ", text);
  std::string dims = text.substr(at + 1, close - at - 1);
  size_t p = 0;
  while (p < dims.size()) {
    while (p < dims.size() && (dims[p] == ' ' || dims[p] == ',')) ++p;
    if (p >= dims.size()) break;
    size_t q = p;
    while (q < dims.size() && dims[q] >= '0' && dims[q] <= '9') ++q;
    if (q == p || q - p > 15) fail(path, ": unparsable shape in header: ", text);
    h.shape.push_back(std::stoll(dims.substr(p, q - p)));
    p = q;
    if (p < dims.size() && dims[p] == 'L') ++p;
  }
  return h;
}

// A read-only memory map of one file, unmapped on destruction.
class Mapping {
 public:
  explicit Mapping(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, ": cannot open: ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      fail(path, ": cannot stat: ", std::strerror(err));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        fail(path, ": cannot map: ", std::strerror(err));
      }
      data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
  }
  ~Mapping() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

struct Shard {
  std::unique_ptr<Mapping> map;
  const uint8_t* pixels = nullptr;  // (count, 3, H, W)
  int64_t first = 0;                // global index of its first example
  int64_t count = 0;
  std::vector<int64_t> labels;
};

}  // namespace

struct ImagenetShards::Impl {
  std::vector<Shard> shards;
  int64_t total = 0;
  int64_t height = 0, width = 0;
  ImageTransform transform;
};

ImagenetShards::ImagenetShards(const std::string& dir, int64_t num_classes, ImageTransform transform) {
  auto impl = std::make_shared<Impl>();
  impl->transform = std::move(transform);
  if (num_classes <= 0) fail("imagenet: num_classes must be positive, got ", num_classes);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("imagenet: ", dir, ": no such directory");

  std::vector<std::pair<int64_t, std::string>> found;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (const int64_t n = image_shard_number(name); n >= 0) found.emplace_back(n, entry.path().string());
  }
  if (ec) fail("imagenet: ", dir, ": cannot list: ", ec.message());
  if (found.empty())
    fail("imagenet: ", dir, ": no shards (expected shard-00000.npy with shard-00000.labels.npy, ...)");
  std::sort(found.begin(), found.end());

  std::string first_path;
  for (const auto& [number, path] : found) {
    const std::string labels_path = path.substr(0, path.size() - kImagesSuffix.size()) + std::string(kLabelsSuffix);
    if (!fs::is_regular_file(labels_path, ec))
      fail("imagenet: ", labels_path, ": missing (each shard-NNNNN.npy needs its shard-NNNNN.labels.npy)");
    const NpyHeader h = read_npy_header(path);
    const bool u8 = h.descr == "|u1" || h.descr == "<u1" || h.descr == ">u1" || h.descr == "=u1";
    if (!u8 || h.shape.size() != 4 || h.shape[1] != 3 || h.fortran_order)
      fail("imagenet: ", path, ": images must be u8 (N, 3, H, W) in C order, got descr '", h.descr, "' shape ",
           shape_str(h.shape), h.fortran_order ? " (Fortran order)" : "");
    if (h.shape[0] == 0 || h.shape[2] == 0 || h.shape[3] == 0)
      fail("imagenet: ", path, ": shard holds no pixels (shape ", shape_str(h.shape), ")");
    if (impl->shards.empty()) {
      impl->height = h.shape[2];
      impl->width = h.shape[3];
      first_path = path;
    } else if (h.shape[2] != impl->height || h.shape[3] != impl->width) {
      fail("imagenet: ", path, ": images are ", h.shape[2], "x", h.shape[3], " but ", first_path, " holds ",
           impl->height, "x", impl->width);
    }
    const auto bytes = static_cast<size_t>(h.shape[0] * 3 * h.shape[2] * h.shape[3]);
    Shard s;
    s.map = std::make_unique<Mapping>(path);
    if (s.map->size() != h.data_offset + bytes)
      fail("imagenet: ", path, ": data is ", s.map->size() - std::min(s.map->size(), h.data_offset),
           " bytes but shape ", shape_str(h.shape), " needs ", bytes, " (truncated or padded file)");
    s.pixels = s.map->data() + h.data_offset;
    s.count = h.shape[0];
    s.first = impl->total;

    const Tensor labels = read_npy(labels_path);
    if (labels.dtype() != DType::i64 || labels.dim() != 1)
      fail("imagenet: ", labels_path, ": labels must be i64 (N), got ", labels.spec().str());
    if (labels.size(0) != s.count)
      fail("imagenet: ", labels_path, ": ", labels.size(0), " labels but ", path, " holds ", s.count, " images");
    s.labels = labels.to_vector<int64_t>();
    for (size_t i = 0; i < s.labels.size(); ++i)
      if (s.labels[i] < 0 || s.labels[i] >= num_classes)
        fail("imagenet: ", labels_path, ": label ", s.labels[i], " at index ", i, " is outside [0, ", num_classes,
             ")");
    impl->total += s.count;
    impl->shards.push_back(std::move(s));
  }
  if (impl->transform.normalize) {
    for (const auto* v : {&impl->transform.mean, &impl->transform.std})
      if (v->size() != 1 && v->size() != 3)
        fail("imagenet: normalization needs 1 or 3 mean/std values, got ", v->size());
    for (float s : impl->transform.std)
      if (!(s > 0.0f)) fail("imagenet: normalization std must be positive, got ", s);
  }
  impl_ = std::move(impl);
}

int64_t ImagenetShards::size() const { return impl_->total; }
int64_t ImagenetShards::num_shards() const { return static_cast<int64_t>(impl_->shards.size()); }
Shape ImagenetShards::example_shape() const { return {3, impl_->height, impl_->width}; }

Example ImagenetShards::get(int64_t index) const {
  if (index < 0 || index >= impl_->total)
    fail("imagenet: index ", index, " out of range [0, ", impl_->total, ")");
  const auto& shards = impl_->shards;
  // The last shard whose first index is <= index.
  const auto it = std::upper_bound(shards.begin(), shards.end(), index,
                                   [](int64_t i, const Shard& s) { return i < s.first; }) - 1;
  const int64_t local = index - it->first;
  const int64_t hw = impl_->height * impl_->width;
  Tensor x = Tensor::empty({3, impl_->height, impl_->width}, DType::f32);
  const uint8_t* src = it->pixels + local * 3 * hw;
  float* dst = x.data<float>();
  const ImageTransform& t = impl_->transform;
  // x: (3, H, W); bytes scale to [0, 1], then per-channel (x - mean) / std.
  for (int64_t c = 0; c < 3; ++c) {
    float mean = 0.0f, inv_std = 1.0f;
    if (t.normalize) {
      mean = t.mean.size() == 1 ? t.mean[0] : t.mean[c];
      inv_std = 1.0f / (t.std.size() == 1 ? t.std[0] : t.std[c]);
    }
    for (int64_t k = 0; k < hw; ++k) dst[c * hw + k] = (static_cast<float>(src[c * hw + k]) / 255.0f - mean) * inv_std;
  }
  return {x, it->labels[static_cast<size_t>(local)]};
}

std::shared_ptr<Dataset> imagenet_shards(const std::string& dir, int64_t num_classes) {
  return std::make_shared<ImagenetShards>(
      dir, num_classes, ImageTransform{true, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}});
}

void write_synthetic_imagenet(const std::string& dir, const SyntheticImagenetOptions& o) {
  if (o.images <= 0 || o.per_shard <= 0 || o.num_classes <= 0 || o.height <= 0 || o.width <= 0)
    fail("synthetic imagenet: images, per_shard, num_classes, height and width must be positive");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("synthetic imagenet: ", dir, ": cannot create: ", ec.message());
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (const std::string name = entry.path().filename().string(); name.starts_with(kPrefix))
      fail("synthetic imagenet: ", dir, " already holds shards (", name, "); use an empty directory");

  const int64_t hw = o.height * o.width;
  const uint64_t label_seed = o.seed * 0x9e3779b97f4a7c15ULL + 1;
  const uint64_t colour_seed = o.seed * 0x9e3779b97f4a7c15ULL + 2;
  const uint64_t noise_seed = o.seed * 0x9e3779b97f4a7c15ULL + 3;
  for (int64_t first = 0, shard = 0; first < o.images; first += o.per_shard, ++shard) {
    const int64_t n = std::min(o.per_shard, o.images - first);
    Tensor images = Tensor::empty({n, 3, o.height, o.width}, DType::u8);
    std::vector<int64_t> labels(static_cast<size_t>(n));
    uint8_t* px = images.data<uint8_t>();
    for (int64_t i = 0; i < n; ++i) {
      const auto global = static_cast<uint64_t>(first + i);
      const int64_t label =
          static_cast<int64_t>(philox_uniform_f64(label_seed, global) * static_cast<double>(o.num_classes)) %
          o.num_classes;
      labels[static_cast<size_t>(i)] = label;
      // Half the class's colour, half uniform noise: (c + noise) / 2 per channel.
      for (int64_t c = 0; c < 3; ++c) {
        const auto colour = static_cast<uint32_t>(
            philox_uniform_f32(colour_seed, static_cast<uint64_t>(label * 3 + c)) * 256.0f);
        uint8_t* plane = px + (i * 3 + c) * hw;
        const uint64_t base = (global * 3 + static_cast<uint64_t>(c)) * static_cast<uint64_t>((hw + 3) / 4);
        for (int64_t k = 0; k < hw; k += 4) {
          const auto r = philox4x32(noise_seed, base + static_cast<uint64_t>(k / 4));
          for (int64_t j = 0; j < 4 && k + j < hw; ++j)
            plane[k + j] = static_cast<uint8_t>((colour + (r[static_cast<size_t>(j)] & 0xff)) / 2);
        }
      }
    }
    const std::string stem = (fs::path(dir) / shard_stem(shard)).string();
    // Labels first: a reader only picks up a shard once its image file exists.
    write_npy(stem + std::string(kLabelsSuffix), Tensor::from_vector(labels, Shape{n}));
    write_npy(stem + std::string(kImagesSuffix), images);
  }
}

}  // namespace plumb
