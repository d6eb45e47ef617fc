// autoenc: Fathom's variational autoencoder (fathom/autoenc/variational.py, after tensorflow/models'
// autoencoder) and the VAE of PyTorch's examples repository ("modern"), with its own workload: a
// training step is batch -> encode, sample, decode -> VAE loss -> backward -> Adam.
#include "autoenc.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/data.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/init.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "zoo.h"

namespace plumb::models {

namespace {

constexpr int64_t kPixels = 28 * 28;

// z = mean + sigma * eps, eps ~ N(0, 1) drawn by plumb's random op so it shows in profiles.
// Fathom writes sigma = sqrt(exp(log_var)); the PyTorch example exp(0.5 * log_var).
Tensor sample(const Tensor& mean, const Tensor& log_var, bool modern) {
  ModuleScope scope("sample");
  const Tensor eps = normal(mean.shape(), 0, 1, mean.dtype(), mean.device());
  const Tensor sigma = modern ? exp(mul(log_var, 0.5)) : sqrt(exp(log_var));
  return add(mean, mul(sigma, eps));
}

// KL(q(z|x) || N(0, I)) per example: -0.5 * sum_j (1 + log_var - mean^2 - exp(log_var)) -> (N).
Tensor kl_per_example(const Tensor& mean, const Tensor& log_var) {
  return mul(sum(sub(sub(add(log_var, 1.0), mul(mean, mean)), exp(log_var)), {1}), -0.5);
}

}  // namespace

Vae::Vae(const std::string& variant) : modern_(variant == "modern"), latent_(modern_ ? 20 : 200) {
  using nn::Linear;
  if (modern_) {  // names as the PyTorch example's state dict; PyTorch's default init
    hidden_ = register_module("fc1", std::make_shared<Linear>(kPixels, 400));
    mean_ = register_module("fc21", std::make_shared<Linear>(400, latent_));
    log_var_ = register_module("fc22", std::make_shared<Linear>(400, latent_));
    decoder_hidden_ = register_module("fc3", std::make_shared<Linear>(latent_, 400));
    decoder_ = register_module("fc4", std::make_shared<Linear>(400, kPixels));
    return;
  }
  // Fathom: Xavier-uniform encoder weights (its xavier_init is Glorot's bound sqrt(6 / (in + out))),
  // zero biases, and an all-zero decoder.
  mean_ = register_module("z_mean", std::make_shared<Linear>(kPixels, latent_));
  log_var_ = register_module("z_log_sigma_sq", std::make_shared<Linear>(kPixels, latent_));
  decoder_ = register_module("reconstruction", std::make_shared<Linear>(latent_, kPixels));
  for (const auto& l : {mean_, log_var_}) {
    nn::init::xavier_uniform(l->weight);
    nn::init::zeros(l->bias);
  }
  nn::init::zeros(decoder_->weight);
  nn::init::zeros(decoder_->bias);
}

VaeOutput Vae::run(const Tensor& x) {
  if (x.dim() != 2 || x.size(1) != kPixels)
    fail("autoenc: input must be (N, ", kPixels, "), got ", shape_str(x.shape()));
  VaeOutput out;
  if (modern_) {
    const Tensor h = relu((*hidden_)(x));
    out.mean = (*mean_)(h);
    out.log_var = (*log_var_)(h);
    out.decoded = (*decoder_)(relu((*decoder_hidden_)(sample(out.mean, out.log_var, true))));
  } else {
    out.mean = (*mean_)(x);
    out.log_var = (*log_var_)(x);
    out.decoded = (*decoder_)(sample(out.mean, out.log_var, false));
  }
  return out;
}

Tensor Vae::forward(const Tensor& x) {
  const VaeOutput out = run(x);
  return modern_ ? sigmoid(out.decoded) : out.decoded;
}

Tensor Vae::loss(const VaeOutput& out, const Tensor& x) const {
  RegionScope region("vae_loss");
  const Tensor kl = kl_per_example(out.mean, out.log_var);
  if (modern_) {
    // binary_cross_entropy(sigmoid(l), x, sum) written on the logits l, which is stable:
    // max(l, 0) - l * x + log(1 + exp(-|l|)).
    const Tensor& l = out.decoded;
    const Tensor bce = sum(add(sub(relu(l), mul(l, x)), log(add(exp(neg(abs(l))), 1.0))));
    return add(bce, sum(kl));
  }
  // Quirk (kept): Fathom's reduce_mean(reconstr_loss + latent_loss) adds a batch-*summed*
  // reconstruction term (a scalar) to each example's KL, so only the KL is averaged over the batch.
  const Tensor reconstruction = mul(sum(pow(sub(out.decoded, x), 2.0)), 0.5);
  return add(reconstruction, mean(kl));
}

namespace {

// Fashion-MNIST flattened to 784 values in [0, 1]; for "fathom", then standardized per pixel over the
// training set as Fathom's sklearn StandardScaler does (a constant pixel keeps scale 1, as sklearn).
// get() runs on the loader's prefetch thread, so it fills tensors directly and dispatches no op.
class FlatFashionMnist final : public Dataset {
 public:
  explicit FlatFashionMnist(bool standardize) : images_(Split::train) {
    if (!standardize) return;
    const Tensor& u8 = images_.images();  // (N, 1, 28, 28)
    const int64_t n = u8.size(0);
    const uint8_t* p = u8.data<uint8_t>();
    std::vector<double> s(kPixels, 0), ss(kPixels, 0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < kPixels; ++k) {
        const double v = p[i * kPixels + k] / 255.0;
        s[k] += v;
        ss[k] += v * v;
      }
    mean_.resize(kPixels);
    inv_std_.resize(kPixels);
    for (int64_t k = 0; k < kPixels; ++k) {
      const double m = s[k] / static_cast<double>(n);
      const double var = std::max(ss[k] / static_cast<double>(n) - m * m, 0.0);
      mean_[k] = static_cast<float>(m);
      inv_std_[k] = var > 0 ? static_cast<float>(1.0 / std::sqrt(var)) : 1.0f;
    }
  }
  int64_t size() const override { return images_.size(); }
  Example get(int64_t index) const override {
    const Example e = images_.get(index);  // f32 (1, 28, 28) in [0, 1]
    Tensor x = Tensor::empty({kPixels}, DType::f32);
    float* dst = x.data<float>();
    std::memcpy(dst, e.input.data<float>(), kPixels * sizeof(float));
    if (!mean_.empty())
      for (int64_t k = 0; k < kPixels; ++k) dst[k] = (dst[k] - mean_[k]) * inv_std_[k];
    return {x, e.label};
  }

 private:
  FashionMnist images_;
  std::vector<float> mean_, inv_std_;
};

class AutoencWorkload final : public Workload {
 public:
  AutoencWorkload(const ModelInfo& info, const WorkloadOptions& o) {
    set_identity(info.name, info.variants, o, info.default_batch);
    manual_seed(o.seed);
    model_ = build_model(info.name, variant_);
    vae_ = std::dynamic_pointer_cast<Vae>(model_);
    if (!vae_) fail("workload '", name_, "': the model is not a Vae");
    if (o.data == "synthetic") {
      // One seeded batch of uniform [0, 1) pixels, fed every step.
      manual_seed(o.seed ^ 0x5eed'da7aULL);
      fixed_ = uniform({batch_, kPixels});
      data_ = "synthetic";
    } else if (o.data == "dataset") {
      loader_ = std::make_unique<DataLoader>(std::make_shared<FlatFashionMnist>(!vae_->modern()), batch_,
                                             /*shuffle=*/true, o.seed, /*drop_last=*/true);
      loader_->start_epoch(epoch_);
      data_ = info.dataset;
    } else {
      fail("unknown data source '", o.data, "' (synthetic, dataset)");
    }
    if (mode_ == Mode::train) {
      optimizer_ = nn::make_optimizer(info.optimizer, model_->named_parameters(), info.lr);
      model_->train();
    } else {
      model_->eval();
    }
    std::ostringstream os;
    os << describe_prefix();
    if (optimizer_)
      os << ", " << info.optimizer << " lr " << info.lr
         << (vae_->modern() ? ", VAE loss (BCE + KL)" : ", VAE loss (0.5 sum sq err + KL)");
    os << ", " << data_ << " data";
    describe_ = os.str();
  }

  void step() override {
    const Tensor x = next_batch();
    if (mode_ == Mode::infer) {
      NoGradScope no_grad;
      (void)(*model_)(x);
      return;
    }
    optimizer_->zero_grad();
    const Tensor loss = vae_->loss(vae_->run(x), x);
    backward(loss);
    optimizer_->step();
    last_loss_ = loss.item();
  }

  nn::Module& model() override { return *model_; }

 private:
  Tensor next_batch() { return loader_ ? next_batch_cycling(*loader_, epoch_).inputs : fixed_; }

  std::shared_ptr<nn::Module> model_;
  std::shared_ptr<Vae> vae_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  Tensor fixed_;
  std::unique_ptr<DataLoader> loader_;
  int64_t epoch_ = 0;
};

}  // namespace

void register_autoenc() {
  register_model(ModelInfo{.name = "autoenc",
                           .description = "variational autoencoder; fathom: 784->200(mean, log var)->784 linear "
                                          "(471,584 params); modern: 784-400-20-400-784, sigmoid, BCE (652,824)",
                           .variants = {"fathom", "modern"},
                           .example_shape = {kPixels},
                           .num_classes = 0,  // unsupervised: the labels are unused
                           .dataset = "fashion-mnist",
                           .default_batch = 128,
                           .optimizer = "adam",
                           .lr = 1e-3,
                           .in_suite = true,
                           .step_loss =
                               [](nn::Module& m, const Tensor& x) {
                                 auto& vae = dynamic_cast<Vae&>(m);
                                 return vae.loss(vae.run(x), x);
                               }},
                 [](const std::string& variant) { return std::make_shared<Vae>(variant); },
                 [](const ModelInfo& info, const WorkloadOptions& o) -> std::unique_ptr<Workload> {
                   return std::make_unique<AutoencWorkload>(info, o);
                 });
}

}  // namespace plumb::models
