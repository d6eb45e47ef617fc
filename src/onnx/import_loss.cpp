// ONNX import converters: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, built from gather,
// index_select and reductions so class weights and ignore_index follow ONNX exactly.
#include "onnx/import.h"
#include "plumb/ops.h"

namespace plumb::onnx_io {

namespace {

using Outs = std::vector<Tensor>;

// log_probs: (N, C, d...), target: (N, d...) class indices, weight: (C) or undefined.
Tensor nll(NodeCtx& c, const Tensor& log_probs, size_t target_input, size_t weight_input) {
  const TensorSpec ts = c.spec(target_input);
  if (ts.dtype != DType::i64 && ts.dtype != DType::i32)
    c.fail("target must be i64 or i32, got ", dtype_name(ts.dtype));
  const Shape& xs = log_probs.shape();
  if (xs.size() < 2) c.fail("input must be (N, C, d...), got ", shape_str(xs));
  Shape expect = xs;
  expect.erase(expect.begin() + 1);
  if (ts.shape != expect)
    c.fail("target has shape ", shape_str(ts.shape), ", expected ", shape_str(expect), " for input ", shape_str(xs));
  const std::string reduction = c.attr_string("reduction", "mean");
  if (reduction != "mean" && reduction != "sum" && reduction != "none")
    c.fail("reduction '", reduction, "' is not one of mean, sum, none");
  const DType t = log_probs.dtype();
  if (!is_floating(t)) c.fail("input must be floating, got ", dtype_name(t));

  Tensor target = c.in(target_input);
  Tensor valid;
  if (c.has_attr("ignore_index")) {
    // Ignored targets may lie outside [0, C): they read class 0 and are masked out.
    const Tensor ii = c.scalar(static_cast<double>(c.attr_int("ignore_index", 0)), target.dtype());
    valid = ne(target, ii);
    target = where(valid, target, c.scalar(0, target.dtype()));
  }
  Shape index_shape = ts.shape;
  index_shape.insert(index_shape.begin() + 1, 1);
  Tensor loss = neg(reshape(gather(log_probs, 1, reshape(target, index_shape)), ts.shape));
  Tensor w;
  if (c.has_input(weight_input)) {
    const TensorSpec ws = c.spec(weight_input);
    if (ws.shape != Shape{xs[1]}) c.fail("weight has shape ", shape_str(ws.shape), ", expected (", xs[1], ")");
    w = reshape(index_select(c.in(weight_input), 0, reshape(target, {numel(ts.shape)})), ts.shape);
  }
  if (valid.defined()) {
    Tensor mask = cast(valid, t);
    w = w.defined() ? mul(w, mask) : mask;
  }
  if (w.defined()) loss = mul(loss, w);
  if (reduction == "none") return loss;
  if (reduction == "sum") return sum(loss);
  return w.defined() ? div(sum(loss), sum(w)) : mean(loss);
}

Outs convert_nll(NodeCtx& c) { return {nll(c, c.in(0), 1, 2)}; }

Outs convert_softmax_cross_entropy(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  if (xs.shape.size() < 2) c.fail("scores must be (N, C, d...), got ", shape_str(xs.shape));
  Tensor log_probs = log_softmax(c.in(0), 1);
  Outs out{nll(c, log_probs, 1, 2)};
  if (c.wants_output(1)) out.push_back(log_probs);
  return out;
}

}  // namespace

void add_loss_converters(ConverterTable& t) {
  t["NegativeLogLikelihoodLoss"] = convert_nll;
  t["SoftmaxCrossEntropyLoss"] = convert_softmax_cross_entropy;
}

}  // namespace plumb::onnx_io
