#pragma once
// The speech workload's network (src/models/speech.cpp), exposed for its workload, tests and demo;
// its data (WAV, MFCC, the generated corpus) is in plumb/audio.h.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plumb/nn/module.h"

namespace plumb::models {

struct SpeechConfig {
  bool fathom = true;
  int64_t features = 26;
  int64_t hidden = 1024;      // width of the three dense layers
  int64_t rnn_hidden = 1024;  // per direction
  int64_t classes = 62;       // fathom: 61 TIMIT phonemes + blank; modern: kAlphabetSize
  int64_t blank = 61;         // fathom: the last class, as TensorFlow's CTC; modern: 0
  double clip = 20;           // clipped ReLU: min(relu(x), clip)
  bool fused_rnn = false;     // modern: run the LSTM as oneDNN's fused op
  int64_t time_stride = 1;    // modern: 2, consecutive frame pairs stacked (Deep Speech 2's stride)
};
// "fathom": 26 -> 1024 -> 1024 -> 1024 -> 62, clipped ReLU on every layer (the output included),
// zero-initialized as Fathom's tf.zeros; its clipped-ReLU BiRNN (1024) is built but not connected.
// "modern": frame pairs stacked (time stride 2: 52 inputs every 20 ms), the same dense layers
// (PyTorch init) -> bidirectional LSTM 512 per direction, live and length-masked -> linear to 29
// characters, no clipping on the logits.
SpeechConfig speech_config(const std::string& variant);

class SpeechNet : public nn::Module {
 public:
  explicit SpeechNet(SpeechConfig config);
  // x: (N, T, features), batch-major as Fathom's placeholder -> (T', N, classes) log-probabilities,
  // time-major as CTC takes them, T' = ceil(T / time_stride). Every frame counts as valid.
  Tensor forward(const Tensor& x) override;
  // lengths: (N) i64 valid input frames per example, or undefined (all T); used by the live BiRNN.
  Tensor run(const Tensor& x, const Tensor& lengths);
  // Output steps for input lengths: ceil(length / time_stride), (N) i64.
  Tensor output_lengths(const Tensor& lengths) const;
  const SpeechConfig& config() const { return config_; }
  // Parameters on the executed path: all of them except the dead BiRNN of "fathom".
  int64_t executed_parameter_count() const;
  std::string type_name() const override { return "SpeechNet"; }

 private:
  SpeechConfig config_;
  std::vector<std::shared_ptr<nn::Module>> dense_;
  std::shared_ptr<nn::Module> rnn_, out_;
};

}  // namespace plumb::models
