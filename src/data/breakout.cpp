// A Breakout-like game for the deepq workload, drawn like ALE's 210x160 RGB screen, and Fathom's
// frame preprocessing (OpenCV resize + grayscale + crop, reimplemented in integer arithmetic).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "plumb/error.h"
#include "plumb/random.h"
#include "plumb/rl.h"

namespace plumb::rl {

namespace {

struct Rgb {
  uint8_t r, g, b;
};
// Atari Breakout's palette (as ALE renders it).
constexpr Rgb kWallColor{142, 142, 142};
constexpr Rgb kPaddleColor{200, 72, 72};
constexpr Rgb kRowColors[kMaxBrickRows] = {{200, 72, 72},  {198, 108, 58}, {180, 122, 48},
                                           {162, 162, 42}, {72, 160, 72},  {66, 72, 200}};
constexpr int kTopBarY = 17;      // the grey bar above the play area starts here
constexpr int kBottomY = 196;     // a ball whose top passes this row is lost
constexpr double kServeY = 110;   // serves start below the wall, moving down

void fill(std::vector<uint8_t>& s, int y0, int y1, int x0, int x1, Rgb c) {
  y0 = std::max(y0, 0), y1 = std::min(y1, kScreenHeight), x0 = std::max(x0, 0), x1 = std::min(x1, kScreenWidth);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      uint8_t* p = s.data() + (static_cast<size_t>(y) * kScreenWidth + x) * 3;
      p[0] = c.r, p[1] = c.g, p[2] = c.b;
    }
}

}  // namespace

int Breakout::brick_points(int row) {
  static constexpr int kPoints[kMaxBrickRows] = {7, 7, 4, 4, 1, 1};
  if (row < 0 || row >= kMaxBrickRows) fail("breakout: brick row ", row, " is out of range 0..5");
  return kPoints[row];
}

Breakout::Breakout(BreakoutConfig config) : config_(config), screen_(static_cast<size_t>(kScreenHeight) * kScreenWidth * 3) {
  if (config_.brick_rows < 1 || config_.brick_rows > kMaxBrickRows)
    fail("breakout: brick_rows must be 1..6, got ", config_.brick_rows);
  if (config_.lives < 1) fail("breakout: lives must be >= 1, got ", config_.lives);
  if (config_.paddle_width < 4 || config_.paddle_width > kWallRight - kWallLeft)
    fail("breakout: paddle_width must be 4..144, got ", config_.paddle_width);
  if (config_.paddle_speed < 1) fail("breakout: paddle_speed must be >= 1, got ", config_.paddle_speed);
  if (!(config_.ball_speed >= 0.5 && config_.ball_speed <= 8))
    fail("breakout: ball_speed must be in [0.5, 8], got ", config_.ball_speed);
  if (!(config_.speedup >= 0 && config_.speedup <= 2)) fail("breakout: speedup must be in [0, 2], got ", config_.speedup);
  if (config_.max_steps < 0) fail("breakout: max_steps must be >= 0, got ", config_.max_steps);
  if (config_.frame_skip < 1) fail("breakout: frame_skip must be >= 1, got ", config_.frame_skip);
  reset();
}

void Breakout::reset() {
  for (int r = 0; r < kMaxBrickRows; ++r)
    for (int c = 0; c < kBrickCols; ++c) bricks_[r][c] = r >= kMaxBrickRows - config_.brick_rows;
  for (bool& h : hit_row_) h = false;
  lives_ = config_.lives;
  hits_ = 0;
  score_ = 0;
  steps_ = 0;
  in_play_ = false;
  game_over_ = false;
  speed_ = config_.ball_speed;
  px_ = (kWallLeft + kWallRight - config_.paddle_width) / 2;
  bx_ = by_ = vx_ = vy_ = 0;
  render();
}

int Breakout::bricks_left() const {
  int n = 0;
  for (const auto& row : bricks_)
    for (bool b : row) n += b;
  return n;
}

bool Breakout::brick(int row, int col) const {
  if (row < 0 || row >= kMaxBrickRows || col < 0 || col >= kBrickCols)
    fail("breakout: brick (", row, ", ", col, ") is outside the 6x18 wall");
  return bricks_[row][col];
}

void Breakout::set_ball(double x, double y, double vx, double vy) {
  bx_ = x, by_ = y, vx_ = vx, vy_ = vy;
  in_play_ = true;
  render();
}

void Breakout::set_paddle(int x) {
  px_ = std::clamp(x, kWallLeft, kWallRight - config_.paddle_width);
  render();
}

// The serve: a random column under the wall, heading down at one of four angles.
void Breakout::serve() {
  const double u = philox_uniform_f64(config_.seed, draws_++);
  const double v = philox_uniform_f64(config_.seed, draws_++);
  bx_ = kWallLeft + std::floor(u * (kWallRight - kWallLeft - kBallWidth));
  by_ = kServeY;
  static constexpr double kZones[4] = {-1.0, -0.5, 0.5, 1.0};
  vx_ = kZones[std::min(3, static_cast<int>(v * 4))] * speed_;
  vy_ = speed_;
  in_play_ = true;
}

// Moves the ball one frame in sub-steps of at most one pixel per axis, so it never skips a brick
// or the paddle; bounces off walls, bricks (one per sub-step) and the paddle.
void Breakout::move_ball(StepResult& r) {
  const int n = std::max(1, static_cast<int>(std::ceil(std::max(std::abs(vx_), std::abs(vy_)))));
  for (int i = 0; i < n && in_play_; ++i) {
    const double dx = vx_ / n, dy = vy_ / n;
    bx_ += dx;
    if (bx_ < kWallLeft) bx_ = 2.0 * kWallLeft - bx_, vx_ = -vx_;
    if (bx_ + kBallWidth > kWallRight) bx_ = 2.0 * (kWallRight - kBallWidth) - bx_, vx_ = -vx_;
    by_ += dy;
    if (by_ < kWallTop) by_ = 2.0 * kWallTop - by_, vy_ = -vy_;

    // Bricks: the first brick the ball overlaps, scanning from the side it moves toward.
    const int y0 = static_cast<int>(std::floor(by_)), y1 = static_cast<int>(std::floor(by_ + kBallHeight - 1e-9));
    const int x0 = static_cast<int>(std::floor(bx_)), x1 = static_cast<int>(std::floor(bx_ + kBallWidth - 1e-9));
    bool hit = false;
    for (int yy = (dy > 0 ? y1 : y0); !hit && yy >= y0 && yy <= y1; yy += (dy > 0 ? -1 : 1)) {
      const int row = (yy - kBrickTop) >= 0 ? (yy - kBrickTop) / kBrickHeight : -1;
      if (row < 0 || row >= kMaxBrickRows) continue;
      for (int xx = x0; xx <= x1 && !hit; ++xx) {
        const int col = (xx - kWallLeft) / kBrickWidth;
        if (xx < kWallLeft || col >= kBrickCols || !bricks_[row][col]) continue;
        bricks_[row][col] = false;
        hit = true;
        r.reward += brick_points(row);
        score_ += brick_points(row);
        by_ -= dy;  // step back out of the brick's cell, then bounce
        vy_ = -vy_;
        // Atari's speed-ups: the first hit on the orange row and on the red row.
        if (row <= 1 && !hit_row_[row]) {
          hit_row_[row] = true;
          speed_ += config_.speedup;
          vx_ = vx_ * speed_ / std::abs(vy_);
          vy_ = (vy_ > 0 ? 1 : -1) * speed_;
        }
      }
    }

    // Paddle: the ball's bottom crosses the paddle's top while over it.
    const double bottom = by_ + kBallHeight;
    if (vy_ > 0 && bottom >= kPaddleTop && bottom - dy < kPaddleTop + 1 && bx_ + kBallWidth > px_ &&
        bx_ < px_ + config_.paddle_width) {
      by_ = kPaddleTop - kBallHeight;
      ++hits_;
      if (hits_ == 4 || hits_ == 12) speed_ += config_.speedup;  // Atari: after 4 and 12 hits
      // The angle depends on where it lands: four zones, steeper near the middle.
      const double rel = ((bx_ + kBallWidth / 2.0) - (px_ + config_.paddle_width / 2.0)) / (config_.paddle_width / 2.0);
      const double zone = rel < -0.5 ? -1.0 : rel < 0 ? -0.5 : rel < 0.5 ? 0.5 : 1.0;
      vx_ = zone * speed_;
      vy_ = -speed_;
    }

    if (by_ >= kBottomY) {  // lost
      in_play_ = false;
      r.life_lost = true;
      --lives_;
      speed_ = config_.ball_speed;
      if (lives_ <= 0) game_over_ = true;
    }
  }
}

StepResult Breakout::step(int action) {
  if (action < 0 || action >= kNumActions) fail("breakout: action ", action, " is not one of 0..3");
  StepResult total;
  for (int k = 0; k < config_.frame_skip && !total.terminal; ++k) {
    const StepResult r = frame(action);
    total.reward += r.reward;
    total.life_lost = total.life_lost || r.life_lost;
    total.terminal = r.terminal;
  }
  render();
  return total;
}

StepResult Breakout::frame(int action) {
  StepResult r;
  if (game_over_) {
    r.terminal = true;
    return r;
  }
  if (action == kRight) px_ = std::min(px_ + config_.paddle_speed, kWallRight - config_.paddle_width);
  if (action == kLeft) px_ = std::max(px_ - config_.paddle_speed, static_cast<int>(kWallLeft));
  if (action == kFire && !in_play_) serve();
  if (in_play_) move_ball(r);
  ++steps_;
  if (bricks_left() == 0) game_over_ = true;
  if (config_.max_steps > 0 && steps_ >= config_.max_steps) game_over_ = true;
  r.terminal = game_over_;
  return r;
}

void Breakout::render() {
  std::memset(screen_.data(), 0, screen_.size());
  fill(screen_, kTopBarY, kWallTop, 0, kScreenWidth, kWallColor);
  fill(screen_, kWallTop, kBottomY, 0, kWallLeft, kWallColor);
  fill(screen_, kWallTop, kBottomY, kWallRight, kScreenWidth, kWallColor);
  for (int r = 0; r < kMaxBrickRows; ++r)
    for (int c = 0; c < kBrickCols; ++c)
      if (bricks_[r][c]) {
        const int y = kBrickTop + r * kBrickHeight, x = kWallLeft + c * kBrickWidth;
        fill(screen_, y, y + kBrickHeight, x, x + kBrickWidth, kRowColors[r]);
      }
  fill(screen_, kPaddleTop, kPaddleTop + kPaddleHeight, px_, px_ + config_.paddle_width, kPaddleColor);
  if (in_play_) {
    const int x = static_cast<int>(std::floor(bx_)), y = static_cast<int>(std::floor(by_));
    fill(screen_, y, y + kBallHeight, x, x + kBallWidth, kPaddleColor);
  }
}

// ---- preprocessing ----

namespace {

constexpr int kResizedW = 84, kResizedH = 110, kCropTop = 26;
constexpr int kCoefBits = 11, kCoefScale = 1 << kCoefBits;  // OpenCV's INTER_RESIZE_COEF_BITS

struct Taps {
  int src[2];
  int w[2];  // fixed point, sum 2048
};

// OpenCV INTER_LINEAR's source taps: half-pixel centres, clamped at the edges, float weights
// rounded to 11-bit fixed point.
std::vector<Taps> linear_taps(int src_size, int dst_size) {
  std::vector<Taps> taps(static_cast<size_t>(dst_size));
  const double scale = static_cast<double>(src_size) / dst_size;
  for (int d = 0; d < dst_size; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (s < 0) f = 0, s = 0;
    if (s >= src_size - 1) f = 0, s = src_size - 1;
    Taps& t = taps[static_cast<size_t>(d)];
    t.src[0] = s;
    t.src[1] = std::min(s + 1, src_size - 1);
    t.w[0] = static_cast<int>(std::lrint((1.0f - f) * kCoefScale));
    t.w[1] = static_cast<int>(std::lrint(f * kCoefScale));
  }
  return taps;
}

}  // namespace

void preprocess_frame(const uint8_t* rgb, uint8_t* out, bool fathom_channel_order) {
  static const std::vector<Taps> xs = linear_taps(kScreenWidth, kResizedW);
  static const std::vector<Taps> ys = linear_taps(kScreenHeight, kResizedH);
  // cv2.cvtColor(BGR2GRAY) weights channel 0 by 0.114 (blue) and channel 2 by 0.299 (red), in
  // 14-bit fixed point; Fathom's frames are RGB, so that puts blue's weight on red.
  const int w0 = fathom_channel_order ? 1868 : 4899, w1 = 9617, w2 = fathom_channel_order ? 4899 : 1868;
  int rows[2][kResizedW * 3];
  for (int oy = 0; oy < kFrameSize; ++oy) {
    const Taps& ty = ys[static_cast<size_t>(oy + kCropTop)];
    for (int k = 0; k < 2; ++k) {  // horizontal pass of the two source rows, (84, 3) each
      const uint8_t* src = rgb + static_cast<size_t>(ty.src[k]) * kScreenWidth * 3;
      for (int ox = 0; ox < kResizedW; ++ox) {
        const Taps& tx = xs[static_cast<size_t>(ox)];
        for (int c = 0; c < 3; ++c)
          rows[k][ox * 3 + c] = src[tx.src[0] * 3 + c] * tx.w[0] + src[tx.src[1] * 3 + c] * tx.w[1];
      }
    }
    for (int ox = 0; ox < kResizedW; ++ox) {
      int px[3];
      for (int c = 0; c < 3; ++c) {  // vertical pass, rounding the 22-bit product
        const int v = (rows[0][ox * 3 + c] * ty.w[0] + rows[1][ox * 3 + c] * ty.w[1] + (1 << (2 * kCoefBits - 1))) >>
                      (2 * kCoefBits);
        px[c] = std::clamp(v, 0, 255);
      }
      out[oy * kFrameSize + ox] = static_cast<uint8_t>((px[0] * w0 + px[1] * w1 + px[2] * w2 + (1 << 13)) >> 14);
    }
  }
}

std::vector<uint8_t> preprocess_frame(const std::vector<uint8_t>& rgb, bool fathom_channel_order) {
  if (rgb.size() != static_cast<size_t>(kScreenHeight) * kScreenWidth * 3)
    fail("preprocess_frame: expected a 210x160x3 frame (100800 bytes), got ", rgb.size(), " bytes");
  std::vector<uint8_t> out(static_cast<size_t>(kFrameSize) * kFrameSize);
  preprocess_frame(rgb.data(), out.data(), fathom_channel_order);
  return out;
}

FrameStack::FrameStack() : frames_(static_cast<size_t>(kHistory) * kFrameSize * kFrameSize, 0) {}

void FrameStack::reset(const uint8_t* frame) {
  std::fill(frames_.begin(), frames_.end(), uint8_t{0});
  push(frame);
}

void FrameStack::push(const uint8_t* frame) {
  const size_t n = static_cast<size_t>(kFrameSize) * kFrameSize;
  std::memmove(frames_.data(), frames_.data() + n, n * (kHistory - 1));
  std::memcpy(frames_.data() + n * (kHistory - 1), frame, n);
}

Tensor FrameStack::state() const {
  Tensor t = Tensor::empty({1, kHistory, kFrameSize, kFrameSize});
  float* p = t.data<float>();
  for (size_t i = 0; i < frames_.size(); ++i) p[i] = static_cast<float>(frames_[i]) / 255.0f;
  return t;
}

}  // namespace plumb::rl
