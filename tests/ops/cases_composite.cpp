// Conformance cases for the composites. A composite's cost is the sum of its decomposition's primitives,
// so each expected cost replays the decomposition step by step and counts every element each step
// touches: floating tensors at f32 (4 bytes), indices at their own width, bool masks at 1 byte.
#include <algorithm>

#include "harness.h"

namespace plumb::testing {

namespace {

constexpr double kF = 4, kBool = 1;

// A tensor a decomposition step reads or writes: its shape and element width.
struct T {
  Shape shape;
  double width = kF;
};

// Tallies one primitive at a time, walking every element it touches.
struct Tally {
  double flops = 0, read = 0, written = 0;

  void read_all(const T& t) {
    for (int64_t i = 0; i < numel(t.shape); ++i) read += t.width;
  }
  void write_all(const T& t) {
    for (int64_t i = 0; i < numel(t.shape); ++i) written += t.width;
  }
  // Elementwise op: one FLOP per output element; each input read once at its own size.
  void elementwise(const std::vector<T>& in, const T& out) {
    for (const T& t : in) read_all(t);
    for (int64_t i = 0; i < numel(out.shape); ++i) flops += 1;
    write_all(out);
  }
  // sum / max over `axes` (keepdim or not does not matter): one combine per element after the first of
  // each output; mean: one add per element beyond the first plus one divide per output.
  void reduce(const T& in, const std::vector<int64_t>& axes, bool is_mean = false) {
    const int64_t rank = static_cast<int64_t>(in.shape.size());
    std::vector<bool> reduced(in.shape.size(), axes.empty());
    for (int64_t a : axes) reduced[(a + rank) % std::max<int64_t>(rank, 1)] = true;
    Shape out;
    for (size_t d = 0; d < in.shape.size(); ++d) out.push_back(reduced[d] ? 1 : in.shape[d]);
    // Visit the input in row-major order; the first element landing in each output starts it.
    std::vector<bool> started(static_cast<size_t>(numel(out)), false);
    for (int64_t i = 0; i < numel(in.shape); ++i) {
      int64_t rest = i, o = 0, stride = 1;
      for (size_t d = in.shape.size(); d-- > 0;) {
        const int64_t idx = rest % in.shape[d];
        rest /= in.shape[d];
        if (!reduced[d]) o += idx * stride;
        stride *= out[d];
      }
      if (started[o] || is_mean) flops += 1;  // mean: the first element's slot pays for the divide
      started[o] = true;
    }
    read_all(in);
    write_all(T{out, in.width});
  }
  // gather / index_select: reads the index and the gathered elements, writes them.
  void lookup(const T& index, const T& out) {
    read_all(index);
    for (int64_t i = 0; i < numel(out.shape); ++i) read += out.width;
    write_all(out);
  }
  // pad / copy: reads the input, writes the output, no arithmetic.
  void move(const T& in, const T& out) {
    read_all(in);
    write_all(out);
  }
  // avg_pool: every tap of every output window.
  void pool(const T& in, const T& out, int64_t taps) {
    read_all(in);
    for (int64_t i = 0; i < numel(out.shape); ++i)
      for (int64_t k = 0; k < taps; ++k) flops += 1;
    write_all(out);
  }
  // matmul (M, K) x (K, N): one multiply-add (2 FLOPs) per (m, n, k).
  void matmul(int64_t m, int64_t k, int64_t n) {
    read_all(T{{m, k}});
    read_all(T{{k, n}});
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t p = 0; p < k; ++p) flops += 2;
    write_all(T{{m, n}});
  }
  Cost cost() const { return cost_of(flops, read, written); }
};

const T kScalarF{{}, kF};

Shape drop_axis(Shape s, int64_t axis) {
  s.erase(s.begin() + axis);
  return s;
}

Shape keep_axis(Shape s, int64_t axis) {
  if (!s.empty()) s[axis] = 1;
  return s;
}

// softmax / log_softmax over `axis` (normalized) of `shape`.
void tally_softmax(Tally& t, const Shape& shape, int64_t axis, bool log) {
  const std::vector<int64_t> axes = shape.empty() ? std::vector<int64_t>{} : std::vector<int64_t>{axis};
  const T x{shape}, row{keep_axis(shape, axis)};
  t.reduce(x, axes);              // max (detached)
  t.elementwise({x, row}, x);     // x - max
  t.elementwise({x}, x);          // exp
  t.reduce(x, axes);              // sum
  if (log) {
    t.elementwise({row}, row);    // log of the sum
    t.elementwise({x, row}, x);   // z - log(sum)
  } else {
    t.elementwise({x, row}, x);   // e / sum
  }
}

// The masked nll part of a class loss on log-probabilities of `shape` (class axis c).
void tally_nll(Tally& t, const Shape& shape, double index_width, double eps, const std::string& reduction) {
  const int64_t c = shape.size() == 1 ? 0 : 1;
  const Shape tshape = drop_axis(shape, c);
  const T target{tshape, index_width}, mask{tshape, kBool}, per{tshape};
  const T scalar_i{{}, index_width};
  t.elementwise({target, scalar_i}, mask);           // ne(target, ignore_index)
  t.elementwise({mask, target, scalar_i}, target);   // where(valid, target, 0)
  t.lookup(T{keep_axis(shape, c), index_width}, T{keep_axis(shape, c)});  // gather along the class axis
  if (eps == 0) {
    t.elementwise({per}, per);                       // neg
  } else {
    t.elementwise({per, kScalarF}, per);             // picked * -(1 - eps)
    t.reduce(T{shape}, {c});                         // sum over classes
    t.elementwise({per, kScalarF}, per);             // * eps / C
    t.elementwise({per, per}, per);                  // difference
  }
  t.elementwise({mask}, per);                        // cast(valid)
  t.elementwise({per, per}, per);                    // per * weight
  if (reduction == "sum") {
    t.reduce(per, {});
  } else if (reduction == "mean") {
    t.reduce(per, {});                               // sum of losses
    t.reduce(per, {});                               // count of kept entries
    t.elementwise({kScalarF, kScalarF}, kScalarF);   // divide
  }
}

OpCase make_case(std::string label, std::vector<Tensor> inputs, std::shared_ptr<Attrs> a, const Tally& t) {
  OpCase c;
  c.label = std::move(label);
  c.inputs = std::move(inputs);
  c.attrs = std::move(a);
  c.expected_cost = t.cost();
  return c;
}

AxisAttrs axis_attrs(int64_t axis) {
  AxisAttrs a;
  a.axis = axis;
  return a;
}

LossAttrs loss_attrs(std::string reduction, int64_t ignore_index = -100, double smoothing = 0) {
  LossAttrs a;
  a.reduction = std::move(reduction);
  a.ignore_index = ignore_index;
  a.label_smoothing = smoothing;
  return a;
}

OpCase softmax_case(std::string label, Tensor x, int64_t axis, bool log) {
  Tally t;
  const int64_t rank = x.dim();
  tally_softmax(t, x.shape(), rank == 0 ? 0 : (axis + rank) % rank, log);
  return make_case(std::move(label), {std::move(x)}, attrs(axis_attrs(axis)), t);
}

std::vector<OpCase> softmax_cases(bool log) {
  return {
      softmax_case("rows", rand_f64({3, 4}, 1, -2, 2), -1, log),
      softmax_case("middle axis", rand_f64({2, 3, 2}, 2, -2, 2), 1, log),
      softmax_case("first axis", rand_f64({3, 2}, 3, -2, 2), 0, log),
      softmax_case("1-d", rand_f64({5}, 4, -2, 2), 0, log),
      softmax_case("size-1 axis", rand_f64({4, 1}, 5, -2, 2), 1, log),
      softmax_case("0-d", rand_f64({}, 6, -2, 2), -1, log),
      // exp(100) overflows f32: only the max-subtracted form survives.
      softmax_case("large logits", rand_f64({2, 3}, 7, 90, 110), -1, log),
  };
}

// cross_entropy or nll_loss on scores of `shape` with the given targets.
OpCase class_loss_case(std::string label, bool with_softmax, Tensor scores, Tensor target, LossAttrs a) {
  Tally t;
  const int64_t c = scores.dim() == 1 ? 0 : 1;
  if (with_softmax) tally_softmax(t, scores.shape(), c, true);
  tally_nll(t, scores.shape(), static_cast<double>(dtype_size(target.dtype())), a.label_smoothing, a.reduction);
  return make_case(std::move(label), {std::move(scores), std::move(target)}, attrs(a), t);
}

OpCase mse_case(std::string label, Shape shape, const std::string& reduction) {
  Tally t;
  const T x{shape};
  t.elementwise({x, x}, x);  // a - b
  t.elementwise({x, x}, x);  // d * d
  if (reduction == "mean") t.reduce(x, {}, true);
  if (reduction == "sum") t.reduce(x, {});
  return make_case(std::move(label), {rand_f64(shape, 51), rand_f64(shape, 52)}, attrs(loss_attrs(reduction)), t);
}

OpCase linear_case(std::string label, Shape xs, int64_t outs, bool bias) {
  const int64_t in = xs.back();
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < xs.size(); ++d) rows *= xs[d];
  Tally t;
  t.matmul(rows, in, outs);  // the transpose and reshapes are views
  Shape ys = xs;
  ys.back() = outs;
  if (bias) t.elementwise({T{ys}, T{{outs}}}, T{ys});
  std::vector<Tensor> inputs{rand_f64(xs, 61), rand_f64({outs, in}, 62)};
  if (bias) inputs.push_back(rand_f64({outs}, 63));
  return make_case(std::move(label), std::move(inputs), std::make_shared<NoAttrs>(), t);
}

OpCase embedding_case(std::string label, Tensor index, int64_t vocab, int64_t dim) {
  Tally t;
  Shape out{index.numel(), dim};
  t.lookup(T{{index.numel()}, static_cast<double>(dtype_size(index.dtype()))}, T{out});
  OpCase c = make_case(std::move(label), {rand_f64({vocab, dim}, 71), std::move(index)}, std::make_shared<NoAttrs>(), t);
  return c;
}

LayerNormAttrs ln_attrs(int64_t dims, double eps = 1e-5) {
  LayerNormAttrs a;
  a.normalized_dims = dims;
  a.eps = eps;
  return a;
}

OpCase layer_norm_case(std::string label, Shape xs, int64_t dims, int affine_inputs) {
  const Shape ns(xs.end() - dims, xs.end());
  std::vector<int64_t> axes;
  for (int64_t d = static_cast<int64_t>(xs.size()) - dims; d < static_cast<int64_t>(xs.size()); ++d) axes.push_back(d);
  Shape stat = xs;
  for (int64_t a : axes) stat[a] = 1;
  const T x{xs}, s{stat};
  Tally t;
  t.reduce(x, axes, true);            // mean
  t.elementwise({x, s}, x);           // x - mean
  t.elementwise({x, x}, x);           // d * d
  t.reduce(x, axes, true);            // var
  t.elementwise({s, kScalarF}, s);    // + eps
  t.elementwise({s}, s);              // rsqrt
  t.elementwise({x, s}, x);           // d * invstd
  if (affine_inputs >= 1) t.elementwise({x, T{ns}}, x);  // * weight
  if (affine_inputs >= 2) t.elementwise({x, T{ns}}, x);  // + bias
  std::vector<Tensor> inputs{rand_f64(xs, 81, -2, 2)};
  if (affine_inputs >= 1) inputs.push_back(rand_f64(ns, 82, 0.5, 1.5));
  if (affine_inputs >= 2) inputs.push_back(rand_f64(ns, 83));
  return make_case(std::move(label), std::move(inputs), attrs(ln_attrs(dims)), t);
}

BatchNormAttrs bn_attrs(bool training, double eps = 1e-5) {
  BatchNormAttrs a;
  a.training = training;
  a.eps = eps;
  return a;
}

std::vector<int64_t> stat_axes(const Shape& xs) {
  std::vector<int64_t> axes{0};
  for (size_t d = 2; d < xs.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  return axes;
}

Shape bc_shape(const Shape& xs) {
  Shape s(xs.size(), 1);
  s[1] = xs[1];
  return s;
}

OpCase batch_norm_case(std::string label, Shape xs, bool training) {
  const int64_t ch = xs[1];
  const T x{xs}, c{{ch}}, b{bc_shape(xs)};
  Tally t;
  if (training) {
    t.reduce(x, stat_axes(xs), true);     // mean
    t.elementwise({x, b}, x);             // x - mean
    t.elementwise({x, x}, x);             // d * d
    t.reduce(x, stat_axes(xs), true);     // var
    t.elementwise({c, kScalarF}, c);      // var + eps
    t.elementwise({c}, c);                // rsqrt
    t.elementwise({c, c}, c);             // scale = weight * invstd
    t.elementwise({x, b}, x);             // d * scale
    t.elementwise({x, b}, x);             // + bias
  } else {
    t.elementwise({c, kScalarF}, c);      // running_var + eps
    t.elementwise({c}, c);                // rsqrt
    t.elementwise({c, c}, c);             // scale
    t.elementwise({c, c}, c);             // running_mean * scale
    t.elementwise({c, c}, c);             // shift = bias - that
    t.elementwise({x, b}, x);             // x * scale
    t.elementwise({x, b}, x);             // + shift
  }
  OpCase oc = make_case(std::move(label),
                        {rand_f64(xs, 91, -2, 2), rand_f64({ch}, 92, 0.5, 1.5), rand_f64({ch}, 93),
                         rand_f64({ch}, 94), rand_f64({ch}, 95, 0.5, 1.5)},
                        attrs(bn_attrs(training)), t);
  // Running stats get no gradient (unused in training, detached in eval).
  oc.grad_inputs = {0, 1, 2};
  return oc;
}

OpCase batch_norm_backward_case(std::string label, Shape xs, bool training) {
  const int64_t ch = xs[1];
  const T x{xs}, c{{ch}}, b{bc_shape(xs)};
  const auto axes = stat_axes(xs);
  Tally t;
  t.elementwise({c, kScalarF}, c);        // var + eps
  t.elementwise({c}, c);                  // invstd
  t.elementwise({x, b}, x);               // x - mean
  t.elementwise({x, b}, x);               // xhat
  t.reduce(x, axes);                      // grad_bias
  t.elementwise({x, x}, x);               // gy * xhat
  t.reduce(x, axes);                      // grad_weight
  t.elementwise({c, c}, c);               // weight * invstd
  if (training) {
    t.elementwise({c, kScalarF}, c);      // mean(gy)
    t.elementwise({c, kScalarF}, c);      // mean(gy * xhat)
    t.elementwise({x, b}, x);             // gy - mean(gy)
    t.elementwise({x, b}, x);             // xhat * mean(gy * xhat)
    t.elementwise({x, x}, x);             // difference
    t.elementwise({x, b}, x);             // * weight * invstd
  } else {
    t.elementwise({x, b}, x);             // gy * weight * invstd
  }
  return make_case(std::move(label),
                   {rand_f64(xs, 101), rand_f64(xs, 102, -2, 2), rand_f64({ch}, 103, 0.5, 1.5), rand_f64({ch}, 104),
                    rand_f64({ch}, 105, 0.5, 1.5)},
                   attrs(bn_attrs(training)), t);
}

LrnAttrs lrn_attrs(int64_t size, double alpha, double beta, double k) {
  LrnAttrs a;
  a.size = size;
  a.alpha = alpha;
  a.beta = beta;
  a.k = k;
  return a;
}

OpCase lrn_case(std::string label, Shape xs, LrnAttrs a) {
  const int64_t n = xs[0], ch = xs[1];
  int64_t s = 1;
  for (size_t d = 2; d < xs.size(); ++d) s *= xs[d];
  const T x{xs}, pooled{{n, 1, ch, s}};
  Tally t;
  t.elementwise({x, x}, x);  // x * x (the reshape to (N, 1, C, S) is a view)
  const int64_t before = a.size / 2, after = (a.size - 1) / 2;
  if (before != after) t.move(pooled, T{{n, 1, ch + before + after, s}});  // explicit zero pad
  const T pool_in{{n, 1, before != after ? ch + before + after : ch, s}};
  t.pool(pool_in, pooled, a.size);
  t.elementwise({pooled, kScalarF}, pooled);  // * alpha
  t.elementwise({pooled, kScalarF}, pooled);  // + k
  t.elementwise({pooled, kScalarF}, pooled);  // ^ beta
  t.elementwise({x, x}, x);                   // x / denom
  return make_case(std::move(label), {rand_f64(xs, 111, -2, 2)}, attrs(a), t);
}

DropoutAttrs dropout_attrs(double p, bool training) {
  DropoutAttrs a;
  a.p = p;
  a.training = training;
  a.seed = 1234;
  a.offset = 16;
  return a;
}

OpCase dropout_case(std::string label, Shape xs, double p, bool training) {
  const T x{xs};
  Tally t;
  if (training && p == 1) {
    t.elementwise({x, kScalarF}, x);  // x * 0
  } else if (training && p > 0) {
    t.write_all(x);                   // bernoulli mask
    t.elementwise({x, x}, x);         // x * mask
    t.elementwise({x, kScalarF}, x);  // / (1 - p)
  }
  return make_case(std::move(label), {rand_f64(xs, 121)}, attrs(dropout_attrs(p, training)), t);
}

}  // namespace

PLUMB_OP_CASES(softmax) { return softmax_cases(false); }
PLUMB_OP_CASES(log_softmax) { return softmax_cases(true); }

PLUMB_OP_CASES(cross_entropy) {
  return {
      class_loss_case("mean", true, rand_f64({3, 4}, 11, -2, 2), index_tensor({1, 0, 3}, {3}), loss_attrs("mean")),
      class_loss_case("sum", true, rand_f64({3, 4}, 12, -2, 2), index_tensor({2, 2, 0}, {3}), loss_attrs("sum")),
      class_loss_case("none", true, rand_f64({3, 4}, 13, -2, 2), index_tensor({3, 1, 1}, {3}), loss_attrs("none")),
      class_loss_case("ignore_index", true, rand_f64({4, 3}, 14, -2, 2), index_tensor({1, -100, 2, 0}, {4}),
                      loss_attrs("mean")),
      class_loss_case("ignore a real class", true, rand_f64({4, 3}, 15, -2, 2), index_tensor({1, 2, 2, 0}, {4}),
                      loss_attrs("mean", 2)),
      class_loss_case("label smoothing", true, rand_f64({3, 4}, 16, -2, 2), index_tensor({0, -100, 3}, {3}),
                      loss_attrs("mean", -100, 0.2)),
      class_loss_case("label smoothing, none", true, rand_f64({2, 3}, 17, -2, 2), index_tensor({2, 1}, {2}),
                      loss_attrs("none", -100, 0.1)),
      class_loss_case("spatial (N, C, d)", true, rand_f64({2, 3, 2}, 18, -2, 2), index_tensor({0, 2, 1, 1}, {2, 2}),
                      loss_attrs("mean")),
      class_loss_case("unbatched (C)", true, rand_f64({4}, 19, -2, 2), index_tensor({2}, {}), loss_attrs("mean")),
      class_loss_case("i32 target, sum", true, rand_f64({2, 3}, 20, -2, 2),
                      Tensor::from_vector(std::vector<int32_t>{2, 0}, {2}), loss_attrs("sum", -100, 0.3)),
  };
}

PLUMB_OP_CASES(nll_loss) {
  return {
      class_loss_case("mean", false, rand_f64({3, 4}, 31, -3, 0), index_tensor({1, 0, 3}, {3}), loss_attrs("mean")),
      class_loss_case("sum", false, rand_f64({3, 4}, 32, -3, 0), index_tensor({2, 2, 0}, {3}), loss_attrs("sum")),
      class_loss_case("none", false, rand_f64({3, 2}, 33, -3, 0), index_tensor({1, 0, 1}, {3}), loss_attrs("none")),
      class_loss_case("ignore_index", false, rand_f64({3, 3}, 34, -3, 0), index_tensor({-100, 1, 2}, {3}),
                      loss_attrs("mean")),
      class_loss_case("spatial (N, C, d1, d2)", false, rand_f64({1, 2, 2, 2}, 35, -3, 0),
                      index_tensor({0, 1, 1, 0}, {1, 2, 2}), loss_attrs("sum")),
      class_loss_case("unbatched (C)", false, rand_f64({3}, 36, -3, 0), index_tensor({1}, {}), loss_attrs("none")),
  };
}

PLUMB_OP_CASES(mse_loss) {
  return {
      mse_case("mean", {3, 4}, "mean"),
      mse_case("sum", {2, 3}, "sum"),
      mse_case("none", {2, 2, 2}, "none"),
      mse_case("0-d", {}, "mean"),
  };
}

PLUMB_OP_CASES(linear) {
  return {
      linear_case("2-d with bias", {3, 4}, 2, true),
      linear_case("3-d input", {2, 3, 4}, 5, true),
      linear_case("1-d input", {4}, 3, true),
      linear_case("no bias", {2, 3}, 4, false),
      linear_case("1x1", {1, 1}, 1, true),
  };
}

PLUMB_OP_CASES(embedding) {
  return {
      embedding_case("2-d indices", index_tensor({4, 0, 2, 2}, {2, 2}), 5, 3),
      embedding_case("1-d indices", index_tensor({1, 1, 0}, {3}), 2, 4),
      embedding_case("0-d index", index_tensor({3}, {}), 4, 2),
      embedding_case("i32 indices", Tensor::from_vector(std::vector<int32_t>{2, 0, 1, 2}, {1, 4}), 3, 2),
  };
}

PLUMB_OP_CASES(layer_norm) {
  return {
      layer_norm_case("last dim, affine", {2, 3, 4}, 1, 2),
      layer_norm_case("two dims, affine", {2, 3, 2}, 2, 2),
      layer_norm_case("no affine", {3, 4}, 1, 0),
      layer_norm_case("weight only", {2, 5}, 1, 1),
      layer_norm_case("1-d", {6}, 1, 2),
  };
}

PLUMB_OP_CASES(batch_norm) {
  return {
      batch_norm_case("training (N, C)", {4, 3}, true),
      batch_norm_case("training (N, C, H, W)", {2, 3, 2, 2}, true),
      batch_norm_case("training (N, C, L)", {3, 2, 3}, true),
      batch_norm_case("eval (N, C, L)", {2, 3, 2}, false),
      batch_norm_case("eval (N, C)", {3, 4}, false),
  };
}

PLUMB_OP_CASES(batch_norm_backward) {
  return {
      batch_norm_backward_case("training (N, C)", {4, 3}, true),
      batch_norm_backward_case("training (N, C, H, W)", {2, 2, 2, 2}, true),
      batch_norm_backward_case("eval (N, C, L)", {2, 3, 2}, false),
  };
}

PLUMB_OP_CASES(local_response_norm) {
  return {
      lrn_case("odd size (N, C, L)", {2, 5, 3}, lrn_attrs(3, 0.5, 0.75, 1.0)),
      lrn_case("even size (N, C, H, W)", {1, 4, 2, 2}, lrn_attrs(2, 0.8, 0.75, 2.0)),
      lrn_case("window wider than channels", {2, 3}, lrn_attrs(5, 1.0, 0.5, 1.0)),
      lrn_case("size 1", {1, 3, 2}, lrn_attrs(1, 0.3, 1.0, 1.5)),
      lrn_case("even size 4", {1, 5, 2}, lrn_attrs(4, 0.6, 0.75, 1.0)),
  };
}

PLUMB_OP_CASES(dropout) {
  return {
      dropout_case("training p=0.5", {3, 4}, 0.5, true),
      dropout_case("training p=0.2, 3-d", {2, 2, 3}, 0.2, true),
      dropout_case("eval", {2, 3}, 0.5, false),
      dropout_case("p=0", {2, 3}, 0.0, true),
      dropout_case("p=1", {2, 3}, 1.0, true),
  };
}

}  // namespace plumb::testing
