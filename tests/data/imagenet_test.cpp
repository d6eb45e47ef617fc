// ImageNet-shaped .npy shards: reading, the synthetic generator, and one clear error per kind of
// bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "plumb/data.h"
#include "plumb/error.h"
#include "plumb/npy.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;

class ImagenetShardsTest : public testing::TempDirTest {
 protected:
  // u8 images (n, 3, h, w) whose pixel k of image i is (first + i) * 10 + k % 7, and labels first + i.
  void write_shard(int index, int64_t first, int64_t n, int64_t h = 4, int64_t w = 5) {
    const auto per = static_cast<size_t>(3 * h * w);
    std::vector<uint8_t> px(static_cast<size_t>(n) * per);
    for (size_t k = 0; k < px.size(); ++k)
      px[k] = static_cast<uint8_t>((first + static_cast<int64_t>(k / per)) * 10 + k % per % 7);
    std::vector<int64_t> labels(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = first + i;
    write_npy(stem(index) + ".npy", Tensor::from_vector(px, Shape{n, 3, h, w}));
    write_npy(stem(index) + ".labels.npy", Tensor::from_vector(labels, Shape{n}));
  }
  std::string stem(int index) const {
    std::string d = std::to_string(index);
    return path("shard-" + std::string(5 - d.size(), '0') + d);
  }
  std::string error_of(int64_t classes = 1001) const {
    try {
      ImagenetShards s(dir_.string(), classes);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }
};

TEST_F(ImagenetShardsTest, ReadsExamplesAcrossShards) {
  write_shard(0, 0, 3);
  write_shard(1, 3, 2);
  fs::create_directory(path("unrelated"));  // other entries are ignored
  ImagenetShards d(dir_.string());
  EXPECT_EQ(d.size(), 5);
  EXPECT_EQ(d.num_shards(), 2);
  EXPECT_EQ(d.example_shape(), (Shape{3, 4, 5}));
  for (int64_t i = 0; i < 5; ++i) {
    const Example e = d.get(i);
    EXPECT_EQ(e.label, i);
    EXPECT_EQ(e.input.shape(), (Shape{3, 4, 5}));
    const std::vector<float> v = e.input.to_vector<float>();
    for (size_t k = 0; k < v.size(); ++k) ASSERT_FLOAT_EQ(v[k], static_cast<float>(i * 10 + k % 7) / 255.0f) << i;
  }
  EXPECT_THROW(d.get(5), Error);

  // Batches through the loader; the normalized view subtracts ImageNet's channel means.
  DataLoader loader(imagenet_shards(dir_.string()), 2, /*shuffle=*/true, 3, /*drop_last=*/true);
  int batches = 0;
  while (auto b = loader.next()) {
    EXPECT_EQ(b->inputs.shape(), (Shape{2, 3, 4, 5}));
    ++batches;
  }
  EXPECT_EQ(batches, 2);
  const float first = imagenet_shards(dir_.string())->get(1).input.to_vector<float>()[0];
  EXPECT_NEAR(first, (10.0f / 255.0f - 0.485f) / 0.229f, 1e-5);
}

TEST_F(ImagenetShardsTest, SyntheticGeneratorIsSeededAndReadable) {
  write_synthetic_imagenet(path("a"), {.images = 10, .per_shard = 4, .num_classes = 7, .height = 8, .width = 6,
                                       .seed = 5});
  write_synthetic_imagenet(path("b"), {.images = 10, .per_shard = 4, .num_classes = 7, .height = 8, .width = 6,
                                       .seed = 5});
  write_synthetic_imagenet(path("c"), {.images = 10, .per_shard = 4, .num_classes = 7, .height = 8, .width = 6,
                                       .seed = 6});
  ImagenetShards a(path("a"), 7), b(path("b"), 7), c(path("c"), 7);
  EXPECT_EQ(a.size(), 10);
  EXPECT_EQ(a.num_shards(), 3);  // 4 + 4 + 2
  EXPECT_TRUE(fs::exists(path("a/shard-00002.labels.npy")));
  EXPECT_EQ(a.example_shape(), (Shape{3, 8, 6}));
  bool differs = false;
  std::vector<int> seen(7, 0);
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(a.get(i).input.to_vector<float>(), b.get(i).input.to_vector<float>());
    EXPECT_EQ(a.get(i).label, b.get(i).label);
    differs |= a.get(i).input.to_vector<float>() != c.get(i).input.to_vector<float>();
    ++seen[static_cast<size_t>(a.get(i).label)];
  }
  EXPECT_TRUE(differs);
  EXPECT_GT(std::count_if(seen.begin(), seen.end(), [](int n) { return n > 0; }), 2);
  // A second run into a directory that holds shards would mix two sets: refused.
  try {
    write_synthetic_imagenet(path("a"), {.images = 2});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already holds shards"), std::string::npos) << e.what();
  }
}

TEST_F(ImagenetShardsTest, DefaultsAre224ImagesOver1001Classes) {
  write_synthetic_imagenet(path("full"), {.images = 2});
  ImagenetShards d(path("full"));
  EXPECT_EQ(d.example_shape(), (Shape{3, 224, 224}));
  EXPECT_EQ(kImagenetClasses, 1001);
  EXPECT_GE(d.get(1).label, 0);
  EXPECT_LT(d.get(1).label, 1001);
}

TEST_F(ImagenetShardsTest, MissingDirectoryAndNoShards) {
  try {
    ImagenetShards d(path("nope"));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope: no such directory"), std::string::npos) << e.what();
  }
  std::ofstream(path("readme.txt")) << "not a shard";
  EXPECT_NE(error_of().find("no shards (expected shard-00000.npy"), std::string::npos) << error_of();
}

TEST_F(ImagenetShardsTest, MissingLabels) {
  write_shard(0, 0, 2);
  fs::remove(stem(0) + ".labels.npy");
  EXPECT_NE(error_of().find("shard-00000.labels.npy: missing"), std::string::npos) << error_of();
}

TEST_F(ImagenetShardsTest, WrongDtypeOrShape) {
  write_npy(stem(0) + ".npy", Tensor::zeros({2, 3, 4, 4}, DType::f32));
  write_npy(stem(0) + ".labels.npy", Tensor::zeros({2}, DType::i64));
  EXPECT_NE(error_of().find("images must be u8 (N, 3, H, W) in C order, got descr '<f4'"), std::string::npos)
      << error_of();
  write_npy(stem(0) + ".npy", Tensor::zeros({2, 4, 4, 4}, DType::u8));
  EXPECT_NE(error_of().find("shape (2, 4, 4, 4)"), std::string::npos) << error_of();
  write_npy(stem(0) + ".npy", Tensor::zeros({2, 3, 4}, DType::u8));
  EXPECT_NE(error_of().find("images must be u8 (N, 3, H, W)"), std::string::npos) << error_of();
  write_npy(stem(0) + ".npy", Tensor::zeros({2, 3, 4, 4}, DType::u8));
  write_npy(stem(0) + ".labels.npy", Tensor::zeros({2}, DType::f32));
  EXPECT_NE(error_of().find("labels must be i64 (N)"), std::string::npos) << error_of();
}

TEST_F(ImagenetShardsTest, CountMismatchAndLabelOutOfRange) {
  write_shard(0, 0, 3);
  write_npy(stem(0) + ".labels.npy", Tensor::zeros({4}, DType::i64));
  EXPECT_NE(error_of().find("4 labels but"), std::string::npos) << error_of();
  EXPECT_NE(error_of().find("holds 3 images"), std::string::npos) << error_of();
  write_shard(0, 0, 3);
  write_shard(1, 3, 3);  // labels 3, 4, 5
  EXPECT_NE(error_of(5).find("label 5 at index 2 is outside [0, 5)"), std::string::npos) << error_of(5);
  write_npy(stem(1) + ".labels.npy", Tensor::from_vector<int64_t>({1, -1, 2}, Shape{3}));
  EXPECT_NE(error_of().find("label -1 at index 1"), std::string::npos) << error_of();
}

TEST_F(ImagenetShardsTest, CorruptShards) {
  write_shard(0, 0, 3);
  // Truncated: the header promises 3 images, the file holds fewer bytes.
  fs::resize_file(stem(0) + ".npy", fs::file_size(stem(0) + ".npy") - 10);
  EXPECT_NE(error_of().find("truncated or padded file"), std::string::npos) << error_of();
  // Garbage in place of a .npy file.
  std::ofstream(stem(0) + ".npy", std::ios::binary | std::ios::trunc) << "garbage, not numpy";
  EXPECT_NE(error_of().find("not a .npy file (bad magic)"), std::string::npos) << error_of();
  // Shards of different image sizes.
  write_shard(0, 0, 3, 4, 5);
  write_shard(1, 3, 3, 4, 6);
  EXPECT_NE(error_of().find("images are 4x6 but"), std::string::npos) << error_of();
}

}  // namespace
}  // namespace plumb
