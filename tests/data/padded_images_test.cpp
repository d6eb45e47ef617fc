// PaddedImages: centre padding with a fill value and a grey channel repeated to the model's channels.
#include <gtest/gtest.h>

#include <vector>

#include "plumb/data.h"

namespace plumb {
namespace {

// One 1x2x3 grey image with values 1..6, label 4.
class TinyGrey : public Dataset {
 public:
  int64_t size() const override { return 1; }
  Example get(int64_t) const override {
    return {Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {1, 2, 3}), 4};
  }
};

TEST(PaddedImages, CentresTheImageAndRepeatsItsChannel) {
  const PaddedImages padded(std::make_shared<TinyGrey>(), 3, 5, -1.0f);
  const Example e = padded.get(0);
  EXPECT_EQ(e.label, 4);
  ASSERT_EQ(e.input.shape(), (Shape{3, 5, 5}));
  const std::vector<float> v = e.input.to_vector<float>();
  // (5 - 2) / 2 = 1 row above, (5 - 3) / 2 = 1 column left.
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 5; ++y)
      for (int64_t x = 0; x < 5; ++x) {
        const bool inside = y >= 1 && y < 3 && x >= 1 && x < 4;
        const float want = inside ? static_cast<float>((y - 1) * 3 + (x - 1) + 1) : -1.0f;
        EXPECT_EQ(v[static_cast<size_t>((c * 5 + y) * 5 + x)], want) << c << "," << y << "," << x;
      }
}

TEST(PaddedImages, RejectsImagesThatDoNotFit) {
  EXPECT_THROW(PaddedImages(std::make_shared<TinyGrey>(), 3, 2, 0.0f), Error);
  EXPECT_THROW(PaddedImages(std::make_shared<TinyGrey>(), 0, 8, 0.0f), Error);
}

}  // namespace
}  // namespace plumb
