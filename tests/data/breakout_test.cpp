// The Breakout-like game, Fathom's frame preprocessing and the replay memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "plumb/error.h"
#include "plumb/rl.h"

namespace plumb::rl {
namespace {

constexpr size_t kPixels = static_cast<size_t>(kFrameSize) * kFrameSize;

const uint8_t* pixel(const Breakout& g, int y, int x) {
  return g.screen().data() + (static_cast<size_t>(y) * kScreenWidth + x) * 3;
}

// Plays a fixed action pattern and records everything observable.
std::vector<double> play(uint64_t seed, int frames) {
  Breakout g(BreakoutConfig{.seed = seed});
  std::vector<double> trace;
  for (int i = 0; i < frames; ++i) {
    const int a = (i % 7 == 0) ? kFire : (i / 40) % 2 == 0 ? kLeft : kRight;
    const StepResult r = g.step(a);
    trace.insert(trace.end(), {r.reward, static_cast<double>(r.terminal), g.ball_x(), g.ball_y(),
                               static_cast<double>(g.paddle_x()), static_cast<double>(g.lives())});
    if (r.terminal) g.reset();
  }
  return trace;
}

TEST(Breakout, DeterministicPerSeed) {
  EXPECT_EQ(play(123, 3000), play(123, 3000));
  EXPECT_NE(play(123, 3000), play(124, 3000));  // the serve position is drawn from the seed
}

TEST(Breakout, StartsWithFullWallAndWaitsForFire) {
  Breakout g;
  EXPECT_EQ(g.bricks_left(), 6 * 18);
  EXPECT_EQ(g.lives(), 5);
  EXPECT_FALSE(g.ball_in_play());
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(g.step(kNoop).terminal);
  EXPECT_FALSE(g.ball_in_play());
  g.step(kFire);
  EXPECT_TRUE(g.ball_in_play());
  EXPECT_GT(g.ball_vy(), 0);  // served downward
  EXPECT_EQ(Breakout::brick_points(0), 7);
  EXPECT_EQ(Breakout::brick_points(2), 4);
  EXPECT_EQ(Breakout::brick_points(5), 1);
}

TEST(Breakout, PaddleMovesAndStaysInsideWalls) {
  Breakout g;
  const int x0 = g.paddle_x();
  g.step(kRight);
  EXPECT_EQ(g.paddle_x(), x0 + 3);
  g.step(kLeft);
  g.step(kLeft);
  EXPECT_EQ(g.paddle_x(), x0 - 3);
  for (int i = 0; i < 100; ++i) g.step(kLeft);
  EXPECT_EQ(g.paddle_x(), Breakout::kWallLeft);
  for (int i = 0; i < 100; ++i) g.step(kRight);
  EXPECT_EQ(g.paddle_x(), Breakout::kWallRight - 16);
}

TEST(Breakout, HittingABrickScoresRemovesItAndBounces) {
  Breakout g;
  // Straight up under column 3 of the bottom row (y 87..92, worth 1 point).
  const double x = Breakout::kWallLeft + 3 * Breakout::kBrickWidth + 3;
  g.set_ball(x, 96, 0, -2);
  ASSERT_TRUE(g.brick(5, 3));
  double reward = 0;
  for (int i = 0; i < 3; ++i) reward += g.step(kNoop).reward;
  EXPECT_EQ(reward, 1);
  EXPECT_FALSE(g.brick(5, 3));
  EXPECT_TRUE(g.brick(5, 2));
  EXPECT_TRUE(g.brick(4, 3));  // one brick per bounce
  EXPECT_EQ(g.bricks_left(), 6 * 18 - 1);
  EXPECT_EQ(g.score(), 1);
  EXPECT_GT(g.ball_vy(), 0);  // now heading down
  // The brick's pixels are black now, its neighbour's still coloured.
  EXPECT_EQ(pixel(g, 88, Breakout::kWallLeft + 3 * 8 + 1)[0], 0);
  EXPECT_EQ(pixel(g, 88, Breakout::kWallLeft + 2 * 8 + 1)[2], 200);  // blue bottom row (66, 72, 200)
}

TEST(Breakout, TopRowsScoreSevenAndSpeedUpTheBall) {
  Breakout g;
  // Above the wall (as after breaking through), falling onto the red top row.
  g.set_ball(Breakout::kWallLeft + 5 * 8 + 3, 50, 0, 2);
  double reward = 0;
  for (int i = 0; i < 4; ++i) reward += g.step(kNoop).reward;
  EXPECT_EQ(reward, 7);
  EXPECT_FALSE(g.brick(0, 5));
  EXPECT_TRUE(g.brick(1, 5));
  EXPECT_LT(g.ball_vy(), 0);                  // bounced back up
  EXPECT_DOUBLE_EQ(std::abs(g.ball_vy()), 3);  // Atari's speed-up on the first red brick: 2 + 1
}

TEST(Breakout, MissingTheBallCostsALifeAndFiveEndTheGame) {
  Breakout g;
  int lost = 0;
  bool terminal = false;
  for (int life = 0; life < 5 && !terminal; ++life) {
    g.set_paddle(Breakout::kWallLeft);
    g.set_ball(140, 150, 0, 3);  // far from the paddle, falling
    for (int i = 0; i < 40 && g.ball_in_play(); ++i) {
      const StepResult r = g.step(kNoop);
      lost += r.life_lost;
      terminal = r.terminal;
    }
  }
  EXPECT_EQ(lost, 5);
  EXPECT_TRUE(terminal);
  EXPECT_TRUE(g.game_over());
  EXPECT_EQ(g.lives(), 0);
  EXPECT_TRUE(g.step(kFire).terminal);  // stays over until reset
  g.reset();
  EXPECT_EQ(g.lives(), 5);
  EXPECT_FALSE(g.game_over());
}

TEST(Breakout, PaddleReturnsTheBall) {
  Breakout g;
  g.set_paddle(70);
  g.set_ball(78, 170, 0, 2);  // lands in the paddle's right half
  bool lost = false;
  for (int i = 0; i < 15; ++i) lost |= g.step(kNoop).life_lost;
  EXPECT_FALSE(lost);
  EXPECT_LT(g.ball_vy(), 0);
  EXPECT_GT(g.ball_vx(), 0);  // right half sends it right
  EXPECT_EQ(g.hits(), 1);
}

TEST(Breakout, StepCapEndsTheEpisode) {
  Breakout g(BreakoutConfig{.max_steps = 10});
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(g.step(kNoop).terminal);
  EXPECT_TRUE(g.step(kNoop).terminal);
}

TEST(Breakout, BadConfigAndActionsAreErrors) {
  EXPECT_THROW(Breakout(BreakoutConfig{.brick_rows = 0}), Error);
  EXPECT_THROW(Breakout(BreakoutConfig{.lives = 0}), Error);
  Breakout g;
  EXPECT_THROW(g.step(4), Error);
  EXPECT_THROW(g.step(-1), Error);
}

TEST(Breakout, FrameIsAtariShapedRgb) {
  Breakout g;
  ASSERT_EQ(g.screen().size(), 210u * 160u * 3u);
  // Grey walls, red top bricks, red paddle, black background.
  EXPECT_EQ(pixel(g, 20, 80)[0], 142);
  EXPECT_EQ(pixel(g, 100, 2)[1], 142);
  EXPECT_EQ(pixel(g, 58, 10)[0], 200);
  EXPECT_EQ(pixel(g, 58, 10)[1], 72);
  const int px = g.paddle_x();
  EXPECT_EQ(pixel(g, 190, px + 1)[0], 200);
  EXPECT_EQ(pixel(g, 150, 80)[0], 0);
  EXPECT_EQ(pixel(g, 150, 80)[1], 0);
}

// ---- preprocessing ----

std::vector<uint8_t> solid(uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> f(210 * 160 * 3);
  for (size_t i = 0; i < f.size(); i += 3) f[i] = r, f[i + 1] = g, f[i + 2] = b;
  return f;
}

TEST(Preprocess, ShapeAndFathomsChannelOrder) {
  // A solid colour survives the resize exactly; then BGR2GRAY's 14-bit weights.
  // Fathom (RGB fed as BGR): (200*1868 + 72*9617 + 72*4899 + 8192) >> 14 = 1426944 >> 14 = 87.
  // Correct luma:            (200*4899 + 72*9617 + 72*1868 + 8192) >> 14 = 1814912 >> 14 = 110.
  const std::vector<uint8_t> f = solid(200, 72, 72);
  const std::vector<uint8_t> fathom = preprocess_frame(f, true);
  const std::vector<uint8_t> luma = preprocess_frame(f, false);
  ASSERT_EQ(fathom.size(), kPixels);
  EXPECT_TRUE(std::all_of(fathom.begin(), fathom.end(), [](uint8_t v) { return v == 87; }));
  EXPECT_TRUE(std::all_of(luma.begin(), luma.end(), [](uint8_t v) { return v == 110; }));
  EXPECT_THROW(preprocess_frame(std::vector<uint8_t>(100), true), Error);
}

TEST(Preprocess, HandCheckedInterpolatedPixel) {
  // White from column 79 on. Output column 41 samples x = (41 + 0.5) * 160/84 - 0.5 = 78.5476:
  // taps 78 (black) and 79 (white) with weights round(0.4524*2048) = 926 and round(0.5476*2048) = 1122;
  // rows are uniform, so the value is (255*1122*2048 + 2^21) >> 22 = 140, and grey stays 140.
  std::vector<uint8_t> f(210 * 160 * 3, 0);
  for (int y = 0; y < 210; ++y)
    for (int x = 79; x < 160; ++x)
      for (int c = 0; c < 3; ++c) f[(static_cast<size_t>(y) * 160 + x) * 3 + c] = 255;
  const std::vector<uint8_t> out = preprocess_frame(f, true);
  for (int row : {0, 40, 83}) {
    EXPECT_EQ(out[static_cast<size_t>(row) * 84 + 40], 0);
    EXPECT_EQ(out[static_cast<size_t>(row) * 84 + 41], 140);
    EXPECT_EQ(out[static_cast<size_t>(row) * 84 + 42], 255);
  }
}

TEST(Preprocess, CropKeepsResizedRows26To109) {
  // Row r of the 110-row resize samples source row (r + 0.5) * 210/110 - 0.5: the crop's first row
  // is resized row 26 -> 50.09 (taps 50, 51), the row before it 25 -> 48.18 (taps 48, 49), the next
  // 27 -> 52.0 (tap 52 only) and the last 109 -> 208.55 (taps 208, 209).
  auto white_row = [](std::vector<uint8_t>& f, int y) {
    for (int x = 0; x < 160; ++x)
      for (int c = 0; c < 3; ++c) f[(static_cast<size_t>(y) * 160 + x) * 3 + c] = 255;
  };
  std::vector<uint8_t> f(210 * 160 * 3, 0);
  white_row(f, 49);  // only seen by the cropped-away resized row 25
  std::vector<uint8_t> out = preprocess_frame(f);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](uint8_t v) { return v == 0; }));
  white_row(f, 50);
  white_row(f, 209);
  out = preprocess_frame(f);
  EXPECT_EQ(out[0], 232);        // (255 * round(0.9091 * 2048) * 2048 + 2^21) >> 22 = 232
  EXPECT_EQ(out[84], 0);         // output row 1 = resized row 27
  EXPECT_EQ(out[82 * 84], 0);    // resized row 108: taps 206, 207
  EXPECT_GT(out[83 * 84], 100);  // resized row 109 reaches source row 209
}

TEST(Preprocess, GameFramesGiveStackedStatesInUnitRange) {
  Breakout g;
  FrameStack s;
  std::vector<uint8_t> f = preprocess_frame(g.screen());
  s.reset(f.data());
  Tensor st = s.state();
  EXPECT_EQ(st.shape(), (Shape{1, 4, 84, 84}));
  std::vector<float> v = st.to_vector<float>();
  // Only the newest frame is set after a reset.
  EXPECT_TRUE(std::all_of(v.begin(), v.begin() + 3 * static_cast<int64_t>(kPixels), [](float x) { return x == 0; }));
  EXPECT_GT(*std::max_element(v.begin() + 3 * static_cast<int64_t>(kPixels), v.end()), 0.2f);
  g.step(kFire);
  for (int i = 0; i < 3; ++i) {
    g.step(kRight);
    f = preprocess_frame(g.screen());
    s.push(f.data());
  }
  v = s.state().to_vector<float>();
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x >= 0 && x <= 1; }));
  EXPECT_GT(*std::max_element(v.begin(), v.begin() + static_cast<int64_t>(kPixels)), 0.2f);
  EXPECT_FLOAT_EQ(v.back() * 255.0f, static_cast<float>(f.back()));
}

// ---- replay memory ----

std::vector<uint8_t> frame_of(uint8_t value) { return std::vector<uint8_t>(kPixels, value); }

TEST(Replay, StoresClippedRewardsAndStacksFrames) {
  ReplayMemory m(100, 7);
  EXPECT_FALSE(m.can_sample());
  for (int t = 0; t < 6; ++t) m.add(frame_of(static_cast<uint8_t>(10 * (t + 1))).data(), t % 4, t == 2 ? 7.0 : -3.0, false);
  EXPECT_EQ(m.size(), 6);
  EXPECT_TRUE(m.can_sample());
  std::vector<float> s(4 * kPixels), n(4 * kPixels);
  m.stacked_state(4, s.data());  // frames 1..4 = 20, 30, 40, 50
  m.next_state(4, n.data());     // frames 2..5
  for (int k = 0; k < 4; ++k) {
    EXPECT_FLOAT_EQ(s[static_cast<size_t>(k) * kPixels] * 255.0f, 10.0f * static_cast<float>(k + 2));
    EXPECT_FLOAT_EQ(n[static_cast<size_t>(k) * kPixels] * 255.0f, 10.0f * static_cast<float>(k + 3));
  }
  ReplayBatch b = m.sample(16);
  EXPECT_EQ(b.states.shape(), (Shape{16, 4, 84, 84}));
  EXPECT_EQ(b.next_states.shape(), (Shape{16, 4, 84, 84}));
  EXPECT_EQ(b.actions.dtype(), DType::i64);
  for (float r : b.rewards.to_vector<float>()) EXPECT_TRUE(r == 1.0f || r == -1.0f) << r;
  // Valid entries are 3 and 4 only (three older frames, a stored successor).
  for (int64_t a : b.actions.to_vector<int64_t>()) EXPECT_TRUE(a == 3 || a == 0) << a;
  EXPECT_THROW(m.sample(0), Error);
  EXPECT_THROW(m.add(frame_of(0).data(), 4, 0, false), Error);
  EXPECT_THROW(ReplayMemory(3, 1), Error);
}

TEST(Replay, ZeroesFramesFromBeforeTheEpisode) {
  ReplayMemory m(100, 1);
  m.add(frame_of(1).data(), 0, 0, false);
  m.add(frame_of(2).data(), 0, 0, true);  // the episode ends here
  m.add(frame_of(3).data(), 0, 0, false);  // first frame of the next
  m.add(frame_of(4).data(), 0, 0, false);
  m.add(frame_of(5).data(), 0, 0, false);
  std::vector<float> s(4 * kPixels);
  m.stacked_state(3, s.data());  // frames 1, 2 | 3, 4
  EXPECT_EQ(s[0], 0.0f);
  EXPECT_EQ(s[kPixels], 0.0f);
  EXPECT_FLOAT_EQ(s[2 * kPixels] * 255.0f, 3.0f);
  EXPECT_FLOAT_EQ(s[3 * kPixels] * 255.0f, 4.0f);
}

TEST(Replay, MultiStepReturnsStopAtTheEpisodeEnd) {
  // Rewards 1 at entries 4 and 5, the episode ends at 5; 2-step returns with discount 0.5.
  ReplayMemory m(100, 3);
  for (int t = 0; t < 8; ++t)
    m.add(frame_of(static_cast<uint8_t>(t)).data(), t % 4, (t == 4 || t == 5) ? 1.0 : 0.0, t == 5);
  EXPECT_FALSE(m.can_sample(5));
  const ReplayBatch b = m.sample(32, 2, 0.5);
  const std::vector<int64_t> a = b.actions.to_vector<int64_t>();
  const std::vector<float> r = b.rewards.to_vector<float>(), term = b.terminals.to_vector<float>();
  const std::vector<float> next = b.next_states.to_vector<float>();
  std::vector<int> seen(4, 0);
  for (size_t i = 0; i < a.size(); ++i) {
    ++seen[static_cast<size_t>(a[i])];
    const float newest_next = next[i * 4 * kPixels + 3 * kPixels] * 255.0f;
    if (a[i] == 3) {  // entry 3: 0 + 0.5 * 1, entry 5 is 2 steps on
      EXPECT_FLOAT_EQ(r[i], 0.5f);
      EXPECT_EQ(term[i], 0.0f);
      EXPECT_FLOAT_EQ(newest_next, 5.0f);
    } else if (a[i] == 0) {  // entry 4: 1 + 0.5 * 1, ends at 5
      EXPECT_FLOAT_EQ(r[i], 1.5f);
      EXPECT_EQ(term[i], 1.0f);
    } else {  // entry 5: 1, ends at once
      EXPECT_EQ(a[i], 1);
      EXPECT_FLOAT_EQ(r[i], 1.0f);
      EXPECT_EQ(term[i], 1.0f);
    }
  }
  EXPECT_GT(seen[3], 0);
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
  EXPECT_EQ(seen[2], 0);  // entry 6 has no two stored successors
  EXPECT_THROW(m.sample(4, 0, 0.5), Error);
}

TEST(Replay, WrapsAroundAndSamplesDeterministically) {
  ReplayMemory a(10, 5), b(10, 5);
  for (int t = 0; t < 25; ++t) {
    a.add(frame_of(static_cast<uint8_t>(t)).data(), t % 4, 1, false);
    b.add(frame_of(static_cast<uint8_t>(t)).data(), t % 4, 1, false);
  }
  EXPECT_EQ(a.size(), 10);
  EXPECT_EQ(a.added(), 25);
  std::vector<float> s(4 * kPixels);
  a.stacked_state(3, s.data());  // held: frames 15..24; entry 3 = frame 18
  EXPECT_FLOAT_EQ(s[3 * kPixels] * 255.0f, 18.0f);
  EXPECT_FLOAT_EQ(s[0] * 255.0f, 15.0f);
  const ReplayBatch x = a.sample(32), y = b.sample(32);
  EXPECT_EQ(x.actions.to_vector<int64_t>(), y.actions.to_vector<int64_t>());
  EXPECT_EQ(x.states.to_vector<float>(), y.states.to_vector<float>());
  // Every sampled state's newest frame is one of the held frames 18..23 (entries 3..8).
  const std::vector<float> xs = x.states.to_vector<float>();
  for (int64_t i = 0; i < 32; ++i) {
    const float newest = xs[static_cast<size_t>(i) * 4 * kPixels + 3 * kPixels] * 255.0f;
    EXPECT_GE(newest, 18.0f);
    EXPECT_LE(newest, 23.0f);
  }
}

}  // namespace
}  // namespace plumb::rl
