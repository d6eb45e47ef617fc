#pragma once
// The workloads of the zoo, one file each; registry.cpp calls these once, on first use of the
// registry (explicit registration, so no static initializer order and no linker dropping a file).
namespace plumb::models {

void register_mlp();     // mlp.cpp: LeNet-300-100
void register_lenet5();  // lenet5.cpp: LeNet-5 for 28x28 inputs

}  // namespace plumb::models
