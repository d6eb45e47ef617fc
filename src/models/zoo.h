#pragma once
// The workloads of the zoo, one file each; registry.cpp calls these once, on first use of the
// registry (explicit registration, so no static initializer order and no linker dropping a file).
#include "plumb/data.h"
#include "plumb/models.h"

namespace plumb::models {

// The next batch of `loader`, starting epoch ++epoch when one ends; timed as a "data" region so
// profiles separate input time from op time. Throws Error when an epoch yields no batch.
Batch next_batch_cycling(DataLoader& loader, int64_t& epoch);


void register_mlp();     // mlp.cpp: LeNet-300-100
void register_lenet5();  // lenet5.cpp: LeNet-5 for 28x28 inputs
void register_alexnet();   // alexnet.cpp: AlexNet (fathom, modern = torchvision)
void register_vgg();       // vgg.cpp: 12-conv VGG (fathom), VGG-16 (modern)
void register_residual();  // residual.cpp: 56x56 ResNet (fathom), ResNet-50 (modern)
void register_autoenc();   // autoenc.cpp: VAE, with its own workload
void register_deepq();     // deepq.cpp: Nature DQN on a Breakout-like game
void register_memnet();    // memnet.cpp: end-to-end memory network on bAbI task 1
void register_seq2seq();   // seq2seq.cpp: LSTM encoder-decoder with attention
void register_speech();    // speech.cpp: Deep-Speech-style CTC model

// The builder of an ImageNet CNN from its two variants' builders: the fathom head has 1001 outputs
// (TF Inception's background class) and the modern head 1000, unless the options ask for others.
using HeadBuilder = std::shared_ptr<nn::Module> (*)(int64_t classes);
ConfigurableBuilder imagenet_builder(HeadBuilder fathom, HeadBuilder modern);

}  // namespace plumb::models
