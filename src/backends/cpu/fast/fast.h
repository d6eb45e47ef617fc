#pragma once
// cpu/fast: OpenBLAS and oneDNN kernels, and plumb's own where they beat them (max_pool.cpp,
// conv_direct.cpp). No BLAS or oneDNN type leaves src/backends/cpu/fast.
namespace plumb::backends::fast {
void register_blas();          // blas.cpp
void register_onednn();        // onednn.cpp: convolution
void register_onednn_pool();   // onednn_pool.cpp: pooling
void register_onednn_norm();   // onednn_norm.cpp: batch norm
void register_native_pool();   // max_pool.cpp: max pooling backward
void register_onednn_rnn();    // onednn_rnn.cpp: fused LSTM layer
}  // namespace plumb::backends::fast
