// Indexing ops: index_select, gather (torch.gather) and out-of-place scatter_add. Indices are i64 or i32;
// their values are checked by the kernels (the one check that depends on data, not shapes).
#include "ops/op_def.h"

namespace plumb::ops {

namespace {

void check_index_dtype(std::string_view op, const TensorSpec& index) {
  if (index.dtype != DType::i64 && index.dtype != DType::i32)
    fail(op, ": index must be i64 or i32, got ", dtype_name(index.dtype));
}

// gather / scatter_add: index has x's rank and fits in x on every axis but `axis`.
void check_index_fits(std::string_view op, const TensorSpec& x, const TensorSpec& index, int64_t axis) {
  if (index.shape.size() != x.shape.size())
    fail(op, ": index has rank ", index.shape.size(), " but input has rank ", x.shape.size(), " (shapes ",
         shape_str(index.shape), " and ", shape_str(x.shape), ")");
  for (size_t d = 0; d < x.shape.size(); ++d)
    if (static_cast<int64_t>(d) != axis && index.shape[d] > x.shape[d])
      fail(op, ": index ", shape_str(index.shape), " is larger than input ", shape_str(x.shape), " on axis ", d);
}

std::vector<TensorSpec> index_select_infer(std::span<const TensorSpec> in, const Attrs& attrs) {
  const TensorSpec &x = in[0], &index = in[1];
  check_same_device("index_select", in);
  const int64_t axis = normalize_axis(attrs_as<AxisAttrs>(attrs).axis, x.shape.size(), "index_select");
  check_index_dtype("index_select", index);
  if (index.shape.size() != 1) fail("index_select: index must be 1-d, got shape ", shape_str(index.shape));
  Shape out = x.shape;
  out[axis] = index.shape[0];
  return {{out, x.dtype, x.device}};
}

std::vector<TensorSpec> gather_infer(std::span<const TensorSpec> in, const Attrs& attrs) {
  const TensorSpec &x = in[0], &index = in[1];
  check_same_device("gather", in);
  const int64_t axis = normalize_axis(attrs_as<AxisAttrs>(attrs).axis, x.shape.size(), "gather");
  check_index_dtype("gather", index);
  check_index_fits("gather", x, index, axis);
  return {{index.shape, x.dtype, x.device}};
}

std::vector<TensorSpec> scatter_add_infer(std::span<const TensorSpec> in, const Attrs& attrs) {
  const TensorSpec &x = in[0], &index = in[1], &src = in[2];
  check_same_device("scatter_add", in);
  const int64_t axis = normalize_axis(attrs_as<AxisAttrs>(attrs).axis, x.shape.size(), "scatter_add");
  check_index_dtype("scatter_add", index);
  if (src.dtype != x.dtype)
    fail("scatter_add: src has dtype ", dtype_name(src.dtype), " but input has ", dtype_name(x.dtype));
  if (src.shape != index.shape)
    fail("scatter_add: src shape ", shape_str(src.shape), " must equal index shape ", shape_str(index.shape));
  check_index_fits("scatter_add", x, index, axis);
  return {x};
}

// Reads the index and only the gathered rows, writes the output.
Cost gather_cost(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&) {
  Cost c;
  c.bytes_read = bytes_of(in[1]) + bytes_of(out[0]);
  c.bytes_written = bytes_of(out[0]);
  return c;
}

// index shaped (1, .., n, .., 1) along `axis`, expanded to `shape`: index_select as a gather.
Tensor expanded_index(const Tensor& index, int64_t axis, const Shape& shape) {
  Shape s(shape.size(), 1);
  s[axis] = index.numel();
  return expand(reshape(index, s), shape);
}

}  // namespace
}  // namespace plumb::ops

namespace plumb {

using ops::call;

Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index) {
  AxisAttrs a;
  a.axis = axis;
  return call(PLUMB_OP("index_select"), {x, index}, a);
}

Tensor gather(const Tensor& x, int64_t axis, const Tensor& index) {
  AxisAttrs a;
  a.axis = axis;
  return call(PLUMB_OP("gather"), {x, index}, a);
}

Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src) {
  AxisAttrs a;
  a.axis = axis;
  return call(PLUMB_OP("scatter_add"), {x, index, src}, a);
}
}  // namespace plumb

namespace plumb::ops {

void register_index_ops() {
  register_op(OpDef{
      .name = "index_select",
      .op_class = OpClass::movement,
      .min_inputs = 2,
      .max_inputs = 2,
      .make_attrs = attrs_factory<AxisAttrs>(),
      .infer = index_select_infer,
      .cost = gather_cost,
      .vjp =
          [](const VjpArgs& a) -> std::vector<Tensor> {
            if (!a.needs_grad[0]) return {Tensor(), Tensor()};
            const Tensor &x = a.inputs[0], &g = a.grad_outputs[0];
            const int64_t axis = normalize_axis(attrs_as<AxisAttrs>(a.attrs).axis, x.dim(), "index_select");
            return {scatter_add(zeros_like(x), axis, expanded_index(a.inputs[1], axis, g.shape()), g), Tensor()};
          },
      .differentiable = true,
      .doc = "rows of x along an axis picked by a 1-d index: out[.., i, ..] = x[.., index[i], ..]",
  });

  register_op(OpDef{
      .name = "gather",
      .op_class = OpClass::movement,
      .min_inputs = 2,
      .max_inputs = 2,
      .make_attrs = attrs_factory<AxisAttrs>(),
      .infer = gather_infer,
      .cost = gather_cost,
      .vjp =
          [](const VjpArgs& a) -> std::vector<Tensor> {
            if (!a.needs_grad[0]) return {Tensor(), Tensor()};
            const Tensor& x = a.inputs[0];
            const int64_t axis = normalize_axis(attrs_as<AxisAttrs>(a.attrs).axis, x.dim(), "gather");
            return {scatter_add(zeros_like(x), axis, a.inputs[1], a.grad_outputs[0]), Tensor()};
          },
      .differentiable = true,
      .doc = "torch.gather: out[i][j] = x[index[i][j]][j] for axis 0; out has index's shape",
  });

  register_op(OpDef{
      .name = "scatter_add",
      .op_class = OpClass::movement,
      .min_inputs = 3,
      .max_inputs = 3,
      .make_attrs = attrs_factory<AxisAttrs>(),
      .infer = scatter_add_infer,
      // One add per src element; reads x, index and src, writes the output.
      .cost = [](std::span<const TensorSpec> in, std::span<const TensorSpec> out,
                 const Attrs&) { return io_bytes(in, out, elems_of(in[2])); },
      .vjp =
          [](const VjpArgs& a) -> std::vector<Tensor> {
            const Tensor& g = a.grad_outputs[0];
            const int64_t axis = normalize_axis(attrs_as<AxisAttrs>(a.attrs).axis, a.inputs[0].dim(), "scatter_add");
            std::vector<Tensor> grads(3);
            if (a.needs_grad[0]) grads[0] = g;
            if (a.needs_grad[2]) grads[2] = gather(g, axis, a.inputs[1]);
            return grads;
          },
      .differentiable = true,
      .doc = "out-of-place scatter-add: out = x; out[.., index[i][j], ..] += src[i][j] along the axis",
  });
}

}  // namespace plumb::ops
