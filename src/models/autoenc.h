#pragma once
// The autoenc workload's variational autoencoder, exposed for its workload and tests: run() gives
// the decoder output and the latent mean / log-variance, loss() the variant's VAE loss.
#include <memory>
#include <string>

#include "plumb/nn/layers.h"

namespace plumb::models {

struct VaeOutput {
  Tensor decoded;  // fathom: the reconstruction (linear decoder); modern: its logits (pre-sigmoid)
  Tensor mean;     // (N, latent)
  Tensor log_var;  // (N, latent), log sigma^2
};

// "fathom": 784 -> 200 (mean) and 784 -> 200 (log sigma^2), z = mean + sqrt(exp(log_var)) * eps,
// 200 -> 784 linear. "modern": 784 -> 400 -> (20, 20) -> 400 -> 784 with ReLU and a sigmoid output.
class Vae : public nn::Module {
 public:
  explicit Vae(const std::string& variant);
  // x: (N, 784). Draws eps ~ N(0, 1) with plumb's random op on every call, in train and eval mode.
  VaeOutput run(const Tensor& x);
  // The reconstruction (N, 784): run().decoded, through a sigmoid for "modern".
  Tensor forward(const Tensor& x) override;
  // fathom: 0.5 * sum over the batch of (x_hat - x)^2 + batch mean of KL; modern: binary cross-entropy
  // + KL, both summed over the batch. A 0-d tensor.
  Tensor loss(const VaeOutput& out, const Tensor& x) const;
  std::string type_name() const override { return "Vae"; }
  bool modern() const { return modern_; }
  int64_t latent() const { return latent_; }

 private:
  bool modern_;
  int64_t latent_;
  std::shared_ptr<nn::Linear> hidden_, mean_, log_var_, decoder_hidden_, decoder_;
};

}  // namespace plumb::models
