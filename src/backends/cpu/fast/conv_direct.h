#pragma once
// Direct AVX-512 kernels for 2-D convolutions with one input channel (an image stem such as LeNet's
// first layer), stride 1, no dilation, groups 1. oneDNN's blocked kernels pad the output channels to 16
// and the reorder back to plumb's plain layout costs as much as the convolution; these read and write
// the plain layout. Not a public header.
#include <cstdint>

namespace plumb::backends::fast {

// x (N, 1, H, W), w (O, 1, KH, KW), y (N, O, OH, OW) with OH = H + 2*PH - KH + 1, OW likewise.
struct StemConv {
  int64_t n, o, h, w, kh, kw, ph, pw, oh, ow;
};

// Whether the direct kernel runs on this CPU and supports this geometry: the forward any, the weight
// gradient kernel widths 3, 5 and 7 (its accumulators are unrolled over the width).
bool stem_conv_supported(const StemConv& g, bool weight_gradient);

// y = conv(x, w) for the g.n samples at x and y.
void stem_conv_forward(const StemConv& g, const float* x, const float* w, float* y);

// gw = sum over the g.n samples of the weight gradient (overwrites gw).
void stem_conv_backward_weight(const StemConv& g, const float* x, const float* gy, float* gw);

}  // namespace plumb::backends::fast
