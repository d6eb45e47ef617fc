// Collation, seeded epoch order, DataLoader determinism, drop_last, shutdown and error propagation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "plumb/data.h"

namespace plumb {
namespace {

// Example i has input (2,) = {i, -i} and label i % 7; get(fail_at) throws `Kind`.
class CountingDataset : public Dataset {
 public:
  explicit CountingDataset(int64_t n, int64_t fail_at = -1, bool std_error = false)
      : n_(n), fail_at_(fail_at), std_error_(std_error) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    calls.fetch_add(1);
    if (i == fail_at_) {
      if (std_error_) throw std::runtime_error("disk on fire");
      fail("CountingDataset: example ", i, " is corrupt");
    }
    return {Tensor::from_vector(std::vector<float>{float(i), -float(i)}, {2}), i % 7};
  }
  mutable std::atomic<int64_t> calls{0};

 private:
  int64_t n_, fail_at_;
  bool std_error_;
};

// Labels are i % 7 and inputs[:, 0] is the index, so recover the indices of a batch.
std::vector<int64_t> indices_of(const Batch& b) {
  std::vector<int64_t> out;
  for (float v : b.inputs.to_vector<float>()) out.push_back(static_cast<int64_t>(v));
  std::vector<int64_t> firsts;
  for (size_t k = 0; k < out.size(); k += 2) firsts.push_back(out[k]);
  return firsts;
}

std::vector<std::vector<int64_t>> run_epoch(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<std::vector<int64_t>> batches;
  while (auto b = loader.next()) batches.push_back(indices_of(*b));
  return batches;
}

TEST(Collate, StacksInputsAndLabels) {
  std::vector<Example> ex = {{Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2}), 5},
                             {Tensor::from_vector(std::vector<float>{5, 6, 7, 8}, {2, 2}), 1}};
  Batch b = collate(ex);
  EXPECT_EQ(b.inputs.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(b.inputs.dtype(), DType::f32);
  EXPECT_EQ(b.inputs.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(b.labels.dtype(), DType::i64);
  EXPECT_EQ(b.labels.to_vector<int64_t>(), (std::vector<int64_t>{5, 1}));

  // A transposed (strided) input is copied in logical order.
  Tensor base = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  Tensor t = Tensor::view_of(base, {2, 2}, {1, 2}, 0);
  Batch s = collate({{t, 0}});
  EXPECT_EQ(s.inputs.to_vector<float>(), (std::vector<float>{1, 3, 2, 4}));

  ex.push_back({Tensor::zeros({3}), 0});
  try {
    collate(ex);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("example 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(collate({}), Error);
}

TEST(EpochOrder, IsASeededPermutation) {
  const auto a = epoch_order(100, true, 42, 0);
  EXPECT_EQ(a, epoch_order(100, true, 42, 0));
  EXPECT_NE(a, epoch_order(100, true, 42, 1));
  EXPECT_NE(a, epoch_order(100, true, 43, 0));
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(100);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(a, iota);
  EXPECT_EQ(epoch_order(100, false, 42, 3), iota);
  EXPECT_TRUE(epoch_order(0, true, 1, 0).empty());
  EXPECT_EQ(epoch_order(1, true, 1, 0), std::vector<int64_t>{0});
}

TEST(DataLoader, SameSeedSameOrderAndEpochsDiffer) {
  auto ds = std::make_shared<CountingDataset>(50);
  DataLoader a(ds, 8, /*shuffle=*/true, /*seed=*/7);
  DataLoader b(ds, 8, true, 7);
  const auto a0 = run_epoch(a, 0);
  EXPECT_EQ(a0, run_epoch(b, 0));
  const auto a1 = run_epoch(a, 1);
  EXPECT_NE(a0, a1);
  EXPECT_EQ(a1, run_epoch(b, 1));
  // Returning to an epoch gives its order again, regardless of what ran before.
  EXPECT_EQ(run_epoch(b, 0), a0);
  // Seven batches: six of 8 and a last partial one of 2, covering every index once.
  ASSERT_EQ(a0.size(), 7u);
  EXPECT_EQ(a0.back().size(), 2u);
  std::vector<int64_t> all;
  for (const auto& batch : a0) all.insert(all.end(), batch.begin(), batch.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> iota(50);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(all, iota);
  // The loader's order is exactly epoch_order.
  const auto order = epoch_order(50, true, 7, 1);
  EXPECT_EQ(a1[0], std::vector<int64_t>(order.begin(), order.begin() + 8));
}

TEST(DataLoader, PrefetchOnAndOffAreIdentical) {
  auto ds = std::make_shared<CountingDataset>(37);
  for (int64_t depth : {1, 2, 5}) {
    DataLoader on(ds, 4, true, 123, false, /*prefetch=*/true, depth);
    DataLoader off(ds, 4, true, 123, false, /*prefetch=*/false);
    for (int64_t epoch = 0; epoch < 3; ++epoch) EXPECT_EQ(run_epoch(on, epoch), run_epoch(off, epoch));
  }
  // Labels and inputs agree within a batch.
  DataLoader l(ds, 5, true, 1);
  auto b = l.next();  // starts epoch 0 implicitly
  ASSERT_TRUE(b.has_value());
  const auto idx = indices_of(*b);
  const auto labels = b->labels.to_vector<int64_t>();
  for (size_t k = 0; k < idx.size(); ++k) EXPECT_EQ(labels[k], idx[k] % 7);
  EXPECT_EQ(b->inputs.shape(), (Shape{5, 2}));
}

TEST(DataLoader, DropLast) {
  auto ds = std::make_shared<CountingDataset>(10);
  DataLoader keep(ds, 3, false, 0, /*drop_last=*/false);
  DataLoader drop(ds, 3, false, 0, /*drop_last=*/true);
  EXPECT_EQ(keep.num_batches(), 4);
  EXPECT_EQ(drop.num_batches(), 3);
  const auto k = run_epoch(keep, 0);
  const auto d = run_epoch(drop, 0);
  ASSERT_EQ(k.size(), 4u);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(k.back(), std::vector<int64_t>{9});
  for (const auto& batch : d) EXPECT_EQ(batch.size(), 3u);
  EXPECT_EQ(d[2], (std::vector<int64_t>{6, 7, 8}));
  // Fewer examples than a batch: drop_last yields nothing.
  DataLoader tiny(std::make_shared<CountingDataset>(2), 3, false, 0, true);
  tiny.start_epoch(0);
  EXPECT_FALSE(tiny.next().has_value());
  // After the end, next() keeps returning nullopt.
  EXPECT_FALSE(drop.next().has_value());
}

TEST(DataLoader, ShutdownMidEpochJoinsTheThread) {
  auto ds = std::make_shared<CountingDataset>(10000);
  {
    DataLoader l(ds, 10, true, 3, false, true, 2);
    l.start_epoch(0);
    ASSERT_TRUE(l.next().has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // The bounded queue stops the producer after a few batches.
    EXPECT_LT(ds->calls.load(), 10 * 6);
  }  // destructor stops and joins the prefetch thread mid-epoch
  const int64_t after = ds->calls.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(ds->calls.load(), after);
  // Restarting an epoch midway abandons the old one cleanly.
  DataLoader l(ds, 10, true, 3);
  l.start_epoch(0);
  l.next();
  const auto e1 = run_epoch(l, 1);
  EXPECT_EQ(e1.size(), 1000u);
  // Destroying a loader that never started, or whose epoch finished, is fine too.
  DataLoader idle(ds, 10);
}

TEST(DataLoader, DatasetErrorReachesTheConsumer) {
  for (bool prefetch : {true, false}) {
    for (bool std_error : {false, true}) {
      auto ds = std::make_shared<CountingDataset>(20, /*fail_at=*/13, std_error);
      DataLoader l(ds, 4, false, 0, false, prefetch);
      l.start_epoch(0);
      int good = 0;
      try {
        while (l.next()) ++good;
        ADD_FAILURE() << "expected plumb::Error";
      } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("get(13)"), std::string::npos) << what;
        EXPECT_NE(what.find(std_error ? "disk on fire" : "example 13 is corrupt"), std::string::npos)
            << what;
      }
      EXPECT_EQ(good, 3);  // batches 0..2 are fine, batch 3 holds index 13
      // The loader stays usable: a new epoch runs until the same failure.
      l.start_epoch(1);
      EXPECT_TRUE(l.next().has_value());
    }
  }
}

TEST(DataLoader, RejectsBadArguments) {
  auto ds = std::make_shared<CountingDataset>(4);
  EXPECT_THROW(DataLoader(ds, 0), Error);
  EXPECT_THROW(DataLoader(nullptr, 2), Error);
  EXPECT_THROW(DataLoader(ds, 2, false, 0, false, true, 0), Error);
}

TEST(DataLoader, WorksOverAnImageDataset) {
  Tensor images = Tensor::zeros({6, 1, 2, 2}, DType::u8);
  auto* px = images.data<uint8_t>();
  for (int i = 0; i < 24; ++i) px[i] = static_cast<uint8_t>(i * 10);
  auto ds = std::make_shared<ImageDataset>(images, std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  DataLoader l(ds, 4, false, 0);
  auto b = l.next();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->inputs.shape(), (Shape{4, 1, 2, 2}));
  EXPECT_FLOAT_EQ(b->inputs.to_vector<float>()[5], 50.0f / 255.0f);
  auto c = l.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->labels.to_vector<int64_t>(), (std::vector<int64_t>{4, 5}));
  EXPECT_FALSE(l.next().has_value());
}

}  // namespace
}  // namespace plumb
