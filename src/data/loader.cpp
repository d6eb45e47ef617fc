// Batch collation, seeded epoch order and the prefetching DataLoader.
#include <algorithm>
#include <cstring>
#include <utility>

#include "plumb/data.h"
#include "plumb/random.h"

namespace plumb {

Batch collate(const std::vector<Example>& examples) {
  PLUMB_CHECK(!examples.empty(), "collate: no examples");
  const Tensor& first = examples[0].input;
  PLUMB_CHECK(first.defined(), "collate: example 0 has no input");
  PLUMB_CHECK(!first.is_meta(), "collate: example 0 is a meta tensor");
  const int64_t b = static_cast<int64_t>(examples.size());
  Shape shape{b};
  shape.insert(shape.end(), first.shape().begin(), first.shape().end());
  Tensor inputs = Tensor::empty(shape, first.dtype());
  Tensor labels = Tensor::empty({b}, DType::i64);
  const size_t item_bytes = first.nbytes();
  auto* dst = static_cast<char*>(inputs.raw_data());
  int64_t* lab = labels.data<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    const Tensor& x = examples[i].input;
    PLUMB_CHECK(x.defined(), "collate: example ", i, " has no input");
    PLUMB_CHECK(x.shape() == first.shape() && x.dtype() == first.dtype(), "collate: example ", i,
                " is ", x.spec().str(), ", example 0 is ", first.spec().str());
    PLUMB_CHECK(!x.is_meta(), "collate: example ", i, " is a meta tensor");
    if (x.is_contiguous()) {
      std::memcpy(dst + i * item_bytes, x.raw_data(), item_bytes);
    } else {
      // Strided input: copy element by element into the batch slot.
      Tensor slot = Tensor::view_of(inputs, first.shape(), contiguous_strides(first.shape()),
                                    i * first.numel());
      for (int64_t k = 0; k < x.numel(); ++k) set_element_from_double(slot, k, element_as_double(x, k));
    }
    lab[i] = examples[i].label;
  }
  return {inputs, labels};
}

std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch) {
  PLUMB_CHECK(n >= 0, "epoch_order: negative size ", n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (!shuffle || n < 2) return order;
  // Key the stream by (seed, epoch): one Philox draw turns the pair into the stream's seed.
  auto key = philox4x32(seed, static_cast<uint64_t>(epoch));
  const uint64_t stream = (static_cast<uint64_t>(key[0]) << 32) | key[1];
  for (int64_t i = n - 1; i > 0; --i) {
    auto r = philox4x32(stream, static_cast<uint64_t>(i));
    const uint64_t u = (static_cast<uint64_t>(r[0]) << 32) | r[1];
    const int64_t j = static_cast<int64_t>(u % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, int64_t batch_size, bool shuffle,
                       uint64_t seed, bool drop_last, bool prefetch, int64_t prefetch_depth)
    : dataset_(std::move(dataset)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed),
      drop_last_(drop_last),
      prefetch_(prefetch),
      depth_(prefetch_depth) {
  PLUMB_CHECK(dataset_ != nullptr, "DataLoader: no dataset");
  PLUMB_CHECK(batch_size_ > 0, "DataLoader: batch_size must be positive, got ", batch_size_);
  PLUMB_CHECK(depth_ > 0, "DataLoader: prefetch_depth must be positive, got ", depth_);
}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::num_batches() const {
  const int64_t n = dataset_->size();
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

Batch DataLoader::make_batch(int64_t b) const {
  const int64_t n = static_cast<int64_t>(order_.size());
  const int64_t begin = b * batch_size_;
  const int64_t end = std::min(n, begin + batch_size_);
  std::vector<Example> examples;
  examples.reserve(static_cast<size_t>(end - begin));
  for (int64_t k = begin; k < end; ++k) {
    const int64_t index = order_[k];
    try {
      examples.push_back(dataset_->get(index));
    } catch (const std::exception& e) {
      fail("DataLoader: dataset get(", index, ") failed: ", e.what());
    }
  }
  return collate(examples);
}

void DataLoader::stop_worker() {
  if (worker_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  queue_.clear();
  error_ = nullptr;
  stop_ = false;
  producer_done_ = false;
}

void DataLoader::worker_loop() {
  const int64_t total = num_batches();
  for (int64_t b = 0; b < total; ++b) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || static_cast<int64_t>(queue_.size()) < depth_; });
      if (stop_) return;
    }
    Batch batch;
    try {
      batch = make_batch(b);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::current_exception();
      producer_done_ = true;
      cv_.notify_all();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(batch));
    }
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mu_);
  producer_done_ = true;
  cv_.notify_all();
}

void DataLoader::start_epoch(int64_t epoch) {
  stop_worker();
  order_ = epoch_order(dataset_->size(), shuffle_, seed_, epoch);
  next_batch_ = 0;
  started_ = true;
  if (prefetch_ && num_batches() > 0) worker_ = std::thread([this] { worker_loop(); });
}

std::optional<Batch> DataLoader::next() {
  if (!started_) start_epoch(0);
  if (next_batch_ >= num_batches()) return std::nullopt;
  if (!prefetch_) return make_batch(next_batch_++);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty() || producer_done_; });
  if (!queue_.empty()) {
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    ++next_batch_;
    lock.unlock();
    cv_.notify_all();
    return batch;
  }
  if (error_) {
    std::exception_ptr err = error_;
    // Later calls see the end of the epoch rather than the same error again.
    next_batch_ = num_batches();
    lock.unlock();
    try {
      std::rethrow_exception(err);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail("DataLoader: prefetch thread failed: ", e.what());
    } catch (...) {
      fail("DataLoader: prefetch thread failed with a non-standard exception");
    }
  }
  return std::nullopt;
}

}  // namespace plumb
