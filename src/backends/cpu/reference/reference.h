#pragma once
// cpu/reference: plain, readable loops for every op; the harness's ground truth.
namespace plumb::backends::reference {
void register_elementwise();
void register_reduce();
void register_matmul();
void register_conv();
void register_pool();
void register_movement();
void register_index();
void register_random();
void register_optim();
void register_ctc();
void register_composite();  // fused reference kernels for composites, if any
}  // namespace plumb::backends::reference
