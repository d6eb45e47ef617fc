// Replay memory for DQN: each preprocessed frame is stored once (u8) and states are stacked at
// sampling time, so 4-frame states cost one frame each (Fathom's database.py does the same).
#include <algorithm>
#include <cstring>

#include "plumb/error.h"
#include "plumb/random.h"
#include "plumb/rl.h"

namespace plumb::rl {

namespace {
constexpr size_t kFramePixels = static_cast<size_t>(kFrameSize) * kFrameSize;
}

ReplayMemory::ReplayMemory(int64_t capacity, uint64_t seed) : capacity_(capacity), seed_(seed) {
  if (capacity < kHistory + 2) fail("replay memory: capacity must be >= ", kHistory + 2, " frames, got ", capacity);
  // Reserved, not filled: the frame buffer grows over the first lap, so pages are only touched as
  // the memory fills (a 1M-frame buffer is 7 GB).
  frames_.reserve(static_cast<size_t>(capacity) * kFramePixels);
  actions_.resize(static_cast<size_t>(capacity));
  rewards_.resize(static_cast<size_t>(capacity));
  terminals_.resize(static_cast<size_t>(capacity));
}

int64_t ReplayMemory::size() const { return std::min(added_, capacity_); }

void ReplayMemory::add(const uint8_t* frame, int action, double reward, bool terminal) {
  if (action < 0 || action >= kNumActions) fail("replay memory: action ", action, " is not one of 0..3");
  const size_t slot = static_cast<size_t>(added_ % capacity_);
  if (frames_.size() < (slot + 1) * kFramePixels) frames_.resize((slot + 1) * kFramePixels);  // the first lap
  std::memcpy(frames_.data() + slot * kFramePixels, frame, kFramePixels);
  actions_[slot] = action;
  rewards_[slot] = static_cast<float>(std::clamp(reward, -1.0, 1.0));  // Nature DQN's reward clipping
  terminals_[slot] = terminal ? 1 : 0;
  ++added_;
}

// Valid entries (absolute indices): three older frames still held, and n stored successors.
bool ReplayMemory::can_sample(int n_step) const {
  const int64_t lo = added_ - size() + (kHistory - 1), hi = added_ - 1 - n_step;
  return n_step >= 1 && hi >= lo;
}

// Frames t-3..t, zeroing those from before the episode that t belongs to.
void ReplayMemory::stack(int64_t abs, float* out) const {
  bool zero = false;
  for (int k = kHistory - 1; k >= 0; --k) {
    const int64_t t = abs - (kHistory - 1 - k);
    const size_t slot = static_cast<size_t>(t % capacity_);
    if (k < kHistory - 1 && terminals_[slot]) zero = true;  // t ended an earlier episode
    float* dst = out + static_cast<size_t>(k) * kFramePixels;
    if (zero) {
      std::fill(dst, dst + kFramePixels, 0.0f);
      continue;
    }
    const uint8_t* src = frames_.data() + slot * kFramePixels;
    for (size_t i = 0; i < kFramePixels; ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;
  }
}

void ReplayMemory::stacked_state(int64_t t, float* out) const {
  if (t < kHistory - 1 || t >= size()) fail("replay memory: entry ", t, " has no full state (size ", size(), ")");
  stack(added_ - size() + t, out);
}

void ReplayMemory::next_state(int64_t t, float* out) const {
  if (t < kHistory - 1 || t + 1 >= size()) fail("replay memory: entry ", t, " has no stored successor");
  stack(added_ - size() + t + 1, out);
}

ReplayBatch ReplayMemory::sample(int64_t batch, int n_step, double discount) {
  if (batch <= 0) fail("replay memory: batch must be positive, got ", batch);
  if (n_step < 1) fail("replay memory: n_step must be >= 1, got ", n_step);
  if (!can_sample(n_step)) fail("replay memory: ", size(), " entries are too few to sample a state");
  const int64_t lo = added_ - size() + (kHistory - 1), span = added_ - 1 - n_step - lo + 1;
  ReplayBatch b;
  b.states = Tensor::empty({batch, kHistory, kFrameSize, kFrameSize});
  b.next_states = Tensor::empty({batch, kHistory, kFrameSize, kFrameSize});
  b.actions = Tensor::empty({batch}, DType::i64);
  b.rewards = Tensor::empty({batch});
  b.terminals = Tensor::empty({batch});
  const size_t per = kHistory * kFramePixels;
  for (int64_t i = 0; i < batch; ++i) {
    const auto off = static_cast<int64_t>(philox_uniform_f64(seed_, draws_++) * static_cast<double>(span));
    const int64_t t = lo + std::min(off, span - 1);
    double ret = 0, scale = 1;
    bool done = false;
    int k = 0;
    while (k < n_step && !done) {  // the return up to n steps, cut at the episode's end
      const size_t slot = static_cast<size_t>((t + k) % capacity_);
      ret += scale * rewards_[slot];
      scale *= discount;
      done = terminals_[slot] != 0;
      ++k;
    }
    stack(t, b.states.data<float>() + static_cast<size_t>(i) * per);
    stack(t + k, b.next_states.data<float>() + static_cast<size_t>(i) * per);
    b.actions.data<int64_t>()[i] = actions_[static_cast<size_t>(t % capacity_)];
    b.rewards.data<float>()[i] = static_cast<float>(ret);
    b.terminals.data<float>()[i] = done ? 1.0f : 0.0f;
  }
  return b;
}

}  // namespace plumb::rl
