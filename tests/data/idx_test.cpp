// IDX round trips (plain and gzip), malformed files, CIFAR-10 records and the real Fashion-MNIST.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "plumb/data.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;

// A fresh temporary directory per test, removed afterwards.
class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("plumb_data_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write_bytes(const std::string& name, const std::vector<unsigned char>& bytes) const {
    std::ofstream f(path(name), std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  std::vector<unsigned char> read_bytes(const std::string& name) const {
    std::ifstream f(path(name), std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  }
  fs::path dir_;
};

// Runs `fn`, expecting plumb::Error whose message contains every fragment.
template <class Fn>
void expect_error(Fn fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected plumb::Error";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& f : fragments) EXPECT_NE(what.find(f), std::string::npos) << what;
  }
}

// A u8 image file (N, H, W) with pixel (n, i) = (7 n + 3 i) mod 256, and its labels.
void write_mnist_like(const std::string& images, const std::string& labels, int64_t n,
                      int64_t h, int64_t w, int64_t label_count) {
  std::vector<uint8_t> px(static_cast<size_t>(n * h * w));
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = 0; i < h * w; ++i) px[k * h * w + i] = static_cast<uint8_t>((7 * k + 3 * i) % 256);
  std::vector<uint8_t> lab(static_cast<size_t>(label_count));
  for (int64_t k = 0; k < label_count; ++k) lab[k] = static_cast<uint8_t>(k % 10);
  write_idx(images, Tensor::from_vector(px, {n, h, w}));
  write_idx(labels, Tensor::from_vector(lab, {label_count}));
}

TEST_F(DataFiles, IdxPlainBytesMatchTheFormat) {
  write_idx(path("a.idx"), Tensor::from_vector(std::vector<uint8_t>{1, 2, 3, 4, 5, 6}, {2, 3}));
  const std::vector<unsigned char> expected = {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
  EXPECT_EQ(read_bytes("a.idx"), expected);
  // i32 is stored big-endian.
  write_idx(path("b.idx"), Tensor::from_vector(std::vector<int32_t>{0x01020304}, {1}));
  const std::vector<unsigned char> b = {0, 0, 0x0C, 1, 0, 0, 0, 1, 1, 2, 3, 4};
  EXPECT_EQ(read_bytes("b.idx"), b);
}

TEST_F(DataFiles, IdxRoundTripsPlainAndGzip) {
  for (const std::string ext : {".idx", ".idx.gz"}) {
    const Tensor u8 = Tensor::from_vector(std::vector<uint8_t>{0, 1, 127, 128, 255, 9}, {1, 2, 3});
    write_idx(path("u8" + ext), u8);
    Tensor r = read_idx(path("u8" + ext));
    EXPECT_EQ(r.dtype(), DType::u8);
    EXPECT_EQ(r.shape(), (Shape{1, 2, 3}));
    EXPECT_EQ(r.to_vector<int64_t>(), u8.to_vector<int64_t>());

    const std::vector<float> fv = {1.5f, -2.25f, 3e10f, 0.0f};
    write_idx(path("f32" + ext), Tensor::from_vector(fv, {4}));
    r = read_idx(path("f32" + ext));
    EXPECT_EQ(r.dtype(), DType::f32);
    EXPECT_EQ(r.to_vector<float>(), fv);

    const std::vector<double> dv = {1e-300, -7.125};
    write_idx(path("f64" + ext), Tensor::from_vector(dv, {2, 1}));
    r = read_idx(path("f64" + ext));
    EXPECT_EQ(r.dtype(), DType::f64);
    EXPECT_EQ(r.shape(), (Shape{2, 1}));
    EXPECT_EQ(r.to_vector<double>(), dv);

    const std::vector<int32_t> iv = {-1, 70000, 0};
    write_idx(path("i32" + ext), Tensor::from_vector(iv, {3}));
    EXPECT_EQ(read_idx(path("i32" + ext)).to_vector<int32_t>(), iv);

    const std::vector<int8_t> sv = {-128, 127};
    write_idx(path("i8" + ext), Tensor::from_vector(sv, {2}));
    EXPECT_EQ(read_idx(path("i8" + ext)).to_vector<int32_t>(), (std::vector<int32_t>{-128, 127}));
  }
  // The gzip file really is compressed (gzip magic 1f 8b).
  const auto gz = read_bytes("u8.idx.gz");
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(gz[0], 0x1f);
  EXPECT_EQ(gz[1], 0x8b);
}

TEST_F(DataFiles, IdxReadsInt16AsInt32) {
  write_bytes("s.idx", {0, 0, 0x0B, 1, 0, 0, 0, 2, 0xFF, 0xFE, 0x01, 0x00});
  Tensor r = read_idx(path("s.idx"));
  EXPECT_EQ(r.dtype(), DType::i32);
  EXPECT_EQ(r.to_vector<int32_t>(), (std::vector<int32_t>{-2, 256}));
}

TEST_F(DataFiles, IdxMalformedFilesNameTheFile) {
  expect_error([&] { read_idx(path("missing.idx")); }, {path("missing.idx"), "no such file"});
  write_bytes("magic.idx", {1, 0, 0x08, 1, 0, 0, 0, 1, 5});
  expect_error([&] { read_idx(path("magic.idx")); }, {path("magic.idx"), "bad magic", "0x01000801"});
  write_bytes("type.idx", {0, 0, 0x07, 1, 0, 0, 0, 1, 5});
  expect_error([&] { read_idx(path("type.idx")); }, {path("type.idx"), "bad magic"});
  write_bytes("short.idx", {0, 0});
  expect_error([&] { read_idx(path("short.idx")); }, {path("short.idx"), "truncated header"});
  write_bytes("dims.idx", {0, 0, 0x08, 2, 0, 0, 0, 1});
  expect_error([&] { read_idx(path("dims.idx")); }, {path("dims.idx"), "truncated header"});
  write_bytes("data.idx", {0, 0, 0x08, 1, 0, 0, 0, 4, 1, 2, 3});
  expect_error([&] { read_idx(path("data.idx")); }, {path("data.idx"), "truncated data", "3 bytes"});
  write_bytes("extra.idx", {0, 0, 0x08, 1, 0, 0, 0, 1, 1, 2});
  expect_error([&] { read_idx(path("extra.idx")); }, {path("extra.idx"), "1 trailing bytes"});
  // A gzip stream cut in half.
  std::vector<uint8_t> big(4096);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 131 % 251);
  write_idx(path("full.idx.gz"), Tensor::from_vector(big, {4096}));
  auto gz = read_bytes("full.idx.gz");
  gz.resize(gz.size() / 2);
  write_bytes("cut.idx.gz", gz);
  expect_error([&] { read_idx(path("cut.idx.gz")); }, {path("cut.idx.gz")});
  // Writing an unsupported dtype.
  expect_error([&] { write_idx(path("x.idx"), Tensor::zeros({2}, DType::i64)); },
               {path("x.idx"), "i64"});
}

TEST_F(DataFiles, IdxImagesAndLabelsMakeADataset) {
  write_mnist_like(path("img.gz"), path("lab"), 5, 4, 3, 5);
  ImageDataset ds = load_idx_images(path("img.gz"), path("lab"), 10);
  ASSERT_EQ(ds.size(), 5);
  Example e = ds.get(2);
  EXPECT_EQ(e.label, 2);
  EXPECT_EQ(e.input.dtype(), DType::f32);
  EXPECT_EQ(e.input.shape(), (Shape{1, 4, 3}));
  const auto v = e.input.to_vector<float>();
  for (int64_t i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(v[i], static_cast<float>((14 + 3 * i) % 256) / 255.0f);
  expect_error([&] { ds.get(5); }, {"index 5 out of range"});

  ImageDataset norm = load_idx_images(path("img.gz"), path("lab"), 10, {true, {0.5f}, {0.25f}});
  const auto n = norm.get(2).input.to_vector<float>();
  for (int64_t i = 0; i < 12; ++i) EXPECT_NEAR(n[i], (v[i] - 0.5f) / 0.25f, 1e-6);
}

TEST_F(DataFiles, IdxCountMismatchAndBadLabels) {
  write_mnist_like(path("img"), path("lab"), 5, 2, 2, 4);
  expect_error([&] { load_idx_images(path("img"), path("lab"), 10); },
               {path("img"), "5 images", path("lab"), "4 labels"});
  write_mnist_like(path("img2"), path("lab2"), 5, 2, 2, 5);
  expect_error([&] { load_idx_images(path("img2"), path("lab2"), 3); },
               {path("lab2"), "label 3", "outside 0..2"});
  expect_error([&] { load_idx_images(path("lab2"), path("lab2"), 10); },
               {path("lab2"), "expected u8 images (N, H, W)"});
}

TEST_F(DataFiles, FashionMnistMissingDirectoryNamesThePackage) {
  expect_error([&] { FashionMnist ds(Split::train, path("nowhere")); },
               {path("nowhere"), "train-images-idx3-ubyte.gz", "dataset-fashion-mnist"});
}

TEST_F(DataFiles, FashionMnistReadsAnyDirectory) {
  write_mnist_like(path("t10k-images-idx3-ubyte.gz"), path("t10k-labels-idx1-ubyte"), 3, 28, 28, 3);
  FashionMnist ds(Split::test, dir_.string());
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.get(1).input.shape(), (Shape{1, 28, 28}));
}

TEST_F(DataFiles, Cifar10ReadsRecords) {
  // Two files of 2 and 1 records; pixel k of record r is (r + k) mod 256.
  auto record = [](int label, int r) {
    std::vector<unsigned char> rec = {static_cast<unsigned char>(label)};
    for (int k = 0; k < 3072; ++k) rec.push_back(static_cast<unsigned char>((r + k) % 256));
    return rec;
  };
  auto a = record(3, 0);
  auto b = record(9, 1);
  a.insert(a.end(), b.begin(), b.end());
  write_bytes("data_batch_1.bin", a);
  write_bytes("data_batch_2.bin", record(0, 2));
  Cifar10 ds({path("data_batch_1.bin"), path("data_batch_2.bin")});
  ASSERT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.labels(), (std::vector<int64_t>{3, 9, 0}));
  Example e = ds.get(2);
  EXPECT_EQ(e.input.shape(), (Shape{3, 32, 32}));
  const auto v = e.input.to_vector<float>();
  EXPECT_FLOAT_EQ(v[0], 2.0f / 255.0f);
  EXPECT_FLOAT_EQ(v[1024 + 5], static_cast<float>((2 + 1029) % 256) / 255.0f);  // channel 1

  // Per-channel normalization.
  Cifar10 norm({path("data_batch_2.bin")}, {true, {0.1f, 0.2f, 0.3f}, {1.0f, 2.0f, 4.0f}});
  const auto n = norm.get(0).input.to_vector<float>();
  EXPECT_NEAR(n[2048 + 7], ((2 + 2055) % 256 / 255.0f - 0.3f) / 4.0f, 1e-6);

  auto t = record(1, 0);
  t.pop_back();
  write_bytes("trunc.bin", t);
  expect_error([&] { Cifar10 d({path("trunc.bin")}); }, {path("trunc.bin"), "3073-byte records"});
  write_bytes("label.bin", record(10, 0));
  expect_error([&] { Cifar10 d({path("label.bin")}); }, {path("label.bin"), "label 10"});
  expect_error([&] { Cifar10 d({path("none.bin")}); }, {path("none.bin"), "no such file"});

  const auto train = Cifar10::split_files("/d", Split::train);
  ASSERT_EQ(train.size(), 5u);
  EXPECT_EQ(train[4], "/d/data_batch_5.bin");
  EXPECT_EQ(Cifar10::split_files("/d", Split::test), std::vector<std::string>{"/d/test_batch.bin"});
}

// The real data from Debian's dataset-fashion-mnist (scripts/setup.sh installs it).
TEST(FashionMnistReal, ReadsTheDebianPackage) {
  const fs::path dir = kFashionMnistDefaultDir;
  ASSERT_TRUE(fs::exists(dir / "train-images-idx3-ubyte.gz"))
      << dir << " is missing: install the Debian package dataset-fashion-mnist";
  FashionMnist train(Split::train);
  FashionMnist test(Split::test);
  ASSERT_EQ(train.size(), 60000);
  ASSERT_EQ(test.size(), 10000);
  std::vector<int64_t> per_class(10, 0);
  for (int64_t l : train.labels()) {
    ASSERT_GE(l, 0);
    ASSERT_LE(l, 9);
    ++per_class[l];
  }
  for (int64_t c : per_class) EXPECT_EQ(c, 6000);
  for (int64_t l : test.labels()) ASSERT_TRUE(l >= 0 && l <= 9);

  // First training image: label 9 (ankle boot); byte sum and position-weighted sum are fixed.
  EXPECT_EQ(train.labels()[0], 9);
  const uint8_t* px = train.images().data<uint8_t>();
  int64_t sum = 0, weighted = 0;
  for (int64_t i = 0; i < 784; ++i) {
    sum += px[i];
    weighted += (i + 1) * px[i];
  }
  EXPECT_EQ(sum, 76247);
  EXPECT_EQ(weighted, 35954273);
  Example e = train.get(0);
  EXPECT_EQ(e.input.shape(), (Shape{1, 28, 28}));
  double fsum = 0;
  for (float v : e.input.to_vector<float>()) {
    ASSERT_GE(v, 0.0f);
    ASSERT_LE(v, 1.0f);
    fsum += v;
  }
  EXPECT_NEAR(fsum, 76247.0 / 255.0, 1e-3);
  EXPECT_EQ(test.labels()[0], 9);

  FashionMnist normalized(Split::test, kFashionMnistDefaultDir, true);
  const float x = normalized.get(0).input.to_vector<float>()[0];
  EXPECT_NEAR(x, (test.get(0).input.to_vector<float>()[0] - kFashionMnistMean) / kFashionMnistStd, 1e-5);
}

}  // namespace
}  // namespace plumb
