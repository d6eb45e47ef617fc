// Direct AVX-512 convolutions with one input channel; see conv_direct.h. Output rows are cut into
// 16-float vectors along the width (the last one masked); x is copied, per sample, into a zero-padded
// scratch plane with slack so every vector load stays inside it.
#include "backends/cpu/fast/conv_direct.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PLUMB_STEM_AVX512 1
#endif

namespace plumb::backends::fast {

namespace {

#if PLUMB_STEM_AVX512

// Padded plane of one sample: (H + 2*PH) rows of `stride` floats, x at (PH, PW); 16 floats of slack after.
struct Padded {
  std::vector<float> buf;
  int64_t stride = 0, h = -1, w = -1, ph = -1, pw = -1;
  const float* fill(const StemConv& g, const float* x) {
    if (g.h != h || g.w != w || g.ph != ph || g.pw != pw) {  // same geometry: the zero borders stay
      h = g.h, w = g.w, ph = g.ph, pw = g.pw;
      stride = g.w + 2 * g.pw + 16;
      buf.assign(static_cast<size_t>((g.h + 2 * g.ph) * stride + 32), 0.0f);
    }
    for (int64_t r = 0; r < g.h; ++r) std::memcpy(&buf[(r + g.ph) * stride + g.pw], x + r * g.w, g.w * sizeof(float));
    return buf.data();
  }
};

__mmask16 tail_mask(int64_t ow) {
  const int64_t rem = ow % 16;
  return rem == 0 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << rem) - 1);
}

// One sample: y (O, OH, OW) from the padded plane p; 6 output channels by 2 width vectors at a time.
__attribute__((target("avx512f"))) void forward_sample(const StemConv& g, const float* p, int64_t ps,
                                                       const float* w, float* y) {
  constexpr int kOb = 6;
  const int64_t chunks = (g.ow + 15) / 16;
  const __mmask16 last = tail_mask(g.ow);
  for (int64_t oh = 0; oh < g.oh; ++oh) {
    for (int64_t c = 0; c < chunks; c += 2) {
      const __mmask16 m0 = c == chunks - 1 ? last : static_cast<__mmask16>(0xFFFF);
      const __mmask16 m1 = c + 1 == chunks - 1 ? last : c + 1 < chunks ? static_cast<__mmask16>(0xFFFF) : 0;
      for (int64_t o0 = 0; o0 < g.o; o0 += kOb) {
        const int ob = static_cast<int>(std::min<int64_t>(kOb, g.o - o0));
        __m512 acc[kOb][2];
        for (int i = 0; i < kOb; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        for (int64_t kh = 0; kh < g.kh; ++kh) {
          const float* row = p + (oh + kh) * ps + 16 * c;
          const float* wk = w + (o0 * g.kh + kh) * g.kw;
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            const __m512 v0 = _mm512_loadu_ps(row + kw), v1 = _mm512_loadu_ps(row + kw + 16);
            for (int i = 0; i < kOb; ++i) {
              if (i >= ob) break;
              const __m512 wv = _mm512_set1_ps(wk[i * g.kh * g.kw + kw]);
              acc[i][0] = _mm512_fmadd_ps(v0, wv, acc[i][0]);
              acc[i][1] = _mm512_fmadd_ps(v1, wv, acc[i][1]);
            }
          }
        }
        for (int i = 0; i < ob; ++i) {
          float* out = y + ((o0 + i) * g.oh + oh) * g.ow + 16 * c;
          _mm512_mask_storeu_ps(out, m0, acc[i][0]);
          _mm512_mask_storeu_ps(out + 16, m1, acc[i][1]);
        }
      }
    }
  }
}

// One sample's contribution to the weight gradient of output channels [o0, o0 + OB), added to acc_mem:
// (O, KH, KW) vectors of 16 partial sums. The OB * KW accumulators of one kernel row stay in registers.
template <int KW, int OB>
__attribute__((target("avx512f"))) void backward_weight_block(const StemConv& g, const float* p, int64_t ps,
                                                              const float* gy, int64_t o0, float* acc_mem) {
  const int64_t chunks = (g.ow + 15) / 16;
  const __mmask16 last = tail_mask(g.ow);
  for (int64_t kh = 0; kh < g.kh; ++kh) {
    __m512 acc[OB][KW];
    for (int i = 0; i < OB; ++i)
      for (int k = 0; k < KW; ++k) acc[i][k] = _mm512_loadu_ps(acc_mem + (((o0 + i) * g.kh + kh) * KW + k) * 16);
    for (int64_t oh = 0; oh < g.oh; ++oh) {
      const float* row = p + (oh + kh) * ps;
      for (int64_t c = 0; c < chunks; ++c) {
        const __mmask16 m = c == chunks - 1 ? last : static_cast<__mmask16>(0xFFFF);
        __m512 gv[OB];
        for (int i = 0; i < OB; ++i) gv[i] = _mm512_maskz_loadu_ps(m, gy + ((o0 + i) * g.oh + oh) * g.ow + 16 * c);
        for (int k = 0; k < KW; ++k) {
          // Masked too: a lane past the row end holds the next row's x, and inf * 0 would be NaN.
          const __m512 xv = _mm512_maskz_loadu_ps(m, row + 16 * c + k);
          for (int i = 0; i < OB; ++i) acc[i][k] = _mm512_fmadd_ps(xv, gv[i], acc[i][k]);
        }
      }
    }
    for (int i = 0; i < OB; ++i)
      for (int k = 0; k < KW; ++k) _mm512_storeu_ps(acc_mem + (((o0 + i) * g.kh + kh) * KW + k) * 16, acc[i][k]);
  }
}

// Output channels in blocks of at most 24 / KW (balanced), each block one instantiation.
template <int KW>
void backward_weight_sample(const StemConv& g, const float* p, int64_t ps, const float* gy, float* acc_mem) {
  constexpr int64_t kMaxOb = 24 / KW;
  const int64_t blocks = (g.o + kMaxOb - 1) / kMaxOb;
  const int64_t obs = (g.o + blocks - 1) / blocks;
  for (int64_t o0 = 0; o0 < g.o; o0 += obs) {
    switch (std::min(obs, g.o - o0)) {
      case 1: backward_weight_block<KW, 1>(g, p, ps, gy, o0, acc_mem); break;
      case 2: backward_weight_block<KW, 2>(g, p, ps, gy, o0, acc_mem); break;
      case 3: backward_weight_block<KW, 3>(g, p, ps, gy, o0, acc_mem); break;
      case 4: backward_weight_block<KW, 4>(g, p, ps, gy, o0, acc_mem); break;
      case 5: backward_weight_block<KW, std::min<int>(5, kMaxOb)>(g, p, ps, gy, o0, acc_mem); break;
      default: backward_weight_block<KW, std::min<int>(6, kMaxOb)>(g, p, ps, gy, o0, acc_mem); break;
    }
  }
}

float sum16(const float* v) {
  float s = 0;
  for (int i = 0; i < 16; ++i) s += v[i];
  return s;
}

template <int KW>
void backward_weight(const StemConv& g, const float* x, const float* gy, float* gw) {
  thread_local Padded pad;
  std::vector<float> acc(static_cast<size_t>(g.o * g.kh * KW * 16), 0.0f);
  for (int64_t n = 0; n < g.n; ++n) {
    const float* p = pad.fill(g, x + n * g.h * g.w);
    backward_weight_sample<KW>(g, p, pad.stride, gy + n * g.o * g.oh * g.ow, acc.data());
  }
  for (int64_t i = 0; i < g.o * g.kh * KW; ++i) gw[i] = sum16(&acc[i * 16]);
}

#endif  // PLUMB_STEM_AVX512

}  // namespace

bool stem_conv_supported(const StemConv& g, bool weight_gradient) {
#if PLUMB_STEM_AVX512
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (weight_gradient && g.kw != 3 && g.kw != 5 && g.kw != 7) return false;
  return avx512 && g.oh > 0 && g.ow > 0 && g.n > 0;
#else
  (void)g, (void)weight_gradient;
  return false;
#endif
}

void stem_conv_forward(const StemConv& g, const float* x, const float* w, float* y) {
#if PLUMB_STEM_AVX512
  thread_local Padded pad;
  for (int64_t n = 0; n < g.n; ++n) {
    const float* p = pad.fill(g, x + n * g.h * g.w);
    forward_sample(g, p, pad.stride, w, y + n * g.o * g.oh * g.ow);
  }
#else
  (void)g, (void)x, (void)w, (void)y;
#endif
}

void stem_conv_backward_weight(const StemConv& g, const float* x, const float* gy, float* gw) {
#if PLUMB_STEM_AVX512
  switch (g.kw) {
    case 3: return backward_weight<3>(g, x, gy, gw);
    case 5: return backward_weight<5>(g, x, gy, gw);
    default: return backward_weight<7>(g, x, gy, gw);
  }
#else
  (void)g, (void)x, (void)gy, (void)gw;
#endif
}

}  // namespace plumb::backends::fast
