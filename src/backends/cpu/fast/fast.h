#pragma once
// cpu/fast: OpenBLAS and oneDNN kernels. No BLAS or oneDNN type leaves src/backends/cpu/fast.
namespace plumb::backends::fast {
void register_blas();    // blas.cpp
void register_onednn();  // onednn_*.cpp
}  // namespace plumb::backends::fast
