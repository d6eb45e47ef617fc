// TensorProto <-> Tensor, dtype mapping, and the checker: what export and import both need.
#include "onnx/tensor_proto.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <limits>

#include "plumb/error.h"
#include "plumb/onnx.h"

namespace plumb::onnx_io {

namespace pb = ::onnx;

int32_t to_onnx_dtype(DType t) {
  switch (t) {
    case DType::f64: return pb::TensorProto::DOUBLE;
    case DType::f32: return pb::TensorProto::FLOAT;
    case DType::f16: return pb::TensorProto::FLOAT16;
    case DType::bf16: return pb::TensorProto::BFLOAT16;
    case DType::i64: return pb::TensorProto::INT64;
    case DType::i32: return pb::TensorProto::INT32;
    case DType::i8: return pb::TensorProto::INT8;
    case DType::u8: return pb::TensorProto::UINT8;
    case DType::boolean: return pb::TensorProto::BOOL;
  }
  fail("onnx: dtype ", dtype_name(t), " has no ONNX element type");
}

DType from_onnx_dtype(int32_t t) {
  switch (t) {
    case pb::TensorProto::DOUBLE: return DType::f64;
    case pb::TensorProto::FLOAT: return DType::f32;
    case pb::TensorProto::FLOAT16: return DType::f16;
    case pb::TensorProto::BFLOAT16: return DType::bf16;
    case pb::TensorProto::INT64: return DType::i64;
    case pb::TensorProto::INT32: return DType::i32;
    case pb::TensorProto::INT8: return DType::i8;
    case pb::TensorProto::UINT8: return DType::u8;
    case pb::TensorProto::BOOL: return DType::boolean;
    default: break;
  }
  const std::string name = pb::TensorProto::DataType_IsValid(t)
                               ? pb::TensorProto::DataType_Name(static_cast<pb::TensorProto::DataType>(t))
                               : std::to_string(t);
  fail("onnx: element type ", name, " is not supported (plumb has f64, f32, f16, bf16, i64, i32, i8, u8, bool)");
}

namespace {

// Copies typed repeated fields (the non-raw encodings) into `out`, converting to its dtype.
template <class Repeated>
void fill_from(const Repeated& field, const Tensor& out, const std::string& what) {
  if (field.size() != out.numel())
    fail("onnx: tensor '", what, "' has ", field.size(), " values for ", out.numel(), " elements");
  for (int64_t i = 0; i < out.numel(); ++i) set_element_from_double(out, i, static_cast<double>(field.Get(static_cast<int>(i))));
}

}  // namespace

Tensor tensor_from_proto(const pb::TensorProto& p) {
  const std::string& name = p.name();
  if (p.data_location() == pb::TensorProto::EXTERNAL)
    fail("onnx: tensor '", name, "' keeps its data in an external file, which plumb does not read");
  if (p.has_segment()) fail("onnx: tensor '", name, "' is segmented, which plumb does not read");
  const DType dtype = from_onnx_dtype(p.data_type());
  Shape shape;
  int64_t numel = 1;
  for (int64_t d : p.dims()) {
    if (d < 0) fail("onnx: tensor '", name, "' has a negative dim ", d);
    if (d > 0 && numel > std::numeric_limits<int32_t>::max() / d)
      fail("onnx: tensor '", name, "' is absurdly large");
    numel *= d;
    shape.push_back(d);
  }
  // The data must be all there before anything is allocated: a few bytes may declare gigabytes.
  const size_t nbytes = static_cast<size_t>(numel) * dtype_size(dtype);
  if (p.has_raw_data()) {
    if (p.raw_data().size() != nbytes)
      fail("onnx: tensor '", name, "' has ", p.raw_data().size(), " bytes of raw data for ", nbytes, " (",
           dtype_name(dtype), " ", shape_str(shape), ")");
    Tensor t = Tensor::empty(shape, dtype, kCPU);
    if (nbytes) std::memcpy(t.raw_data(), p.raw_data().data(), nbytes);  // little-endian, as ONNX
    return t;
  }
  const int typed_count = dtype == DType::f32   ? p.float_data_size()
                          : dtype == DType::f64 ? p.double_data_size()
                          : dtype == DType::i64 ? p.int64_data_size()
                                                : p.int32_data_size();
  if (typed_count != numel)
    fail("onnx: tensor '", name, "' has ", typed_count, " values for ", numel, " elements");
  Tensor t = Tensor::empty(shape, dtype, kCPU);
  switch (dtype) {
    case DType::f32: fill_from(p.float_data(), t, name); break;
    case DType::f64: fill_from(p.double_data(), t, name); break;
    case DType::i64: fill_from(p.int64_data(), t, name); break;
    case DType::i32:
    case DType::i8:
    case DType::u8:
    case DType::boolean: fill_from(p.int32_data(), t, name); break;
    case DType::f16:
    case DType::bf16: {
      // Stored as their 16-bit patterns in int32_data.
      if (p.int32_data_size() != t.numel())
        fail("onnx: tensor '", name, "' has ", p.int32_data_size(), " values for ", t.numel(), " elements");
      auto* bits = static_cast<uint16_t*>(t.raw_data());
      for (int64_t i = 0; i < t.numel(); ++i) bits[i] = static_cast<uint16_t>(p.int32_data(static_cast<int>(i)));
      break;
    }
  }
  return t;
}

void tensor_to_proto(const Tensor& t, const std::string& name, pb::TensorProto& p) {
  if (t.is_meta()) fail("onnx: tensor '", name, "' is on the meta device and has no data to write");
  p.set_name(name);
  p.set_data_type(to_onnx_dtype(t.dtype()));
  for (int64_t d : t.shape()) p.add_dims(d);
  const Tensor c = t.is_contiguous() ? t : Tensor();
  if (c.defined()) {
    p.set_raw_data(static_cast<const char*>(c.raw_data()), t.nbytes());
  } else {
    // Non-contiguous: gather element by element through the dtype-agnostic accessor.
    std::string raw(t.nbytes(), '\0');
    Tensor dense = Tensor::empty(t.shape(), t.dtype(), kCPU);
    for (int64_t i = 0; i < t.numel(); ++i) set_element_from_double(dense, i, element_as_double(t, i));
    std::memcpy(raw.data(), dense.raw_data(), raw.size());
    p.set_raw_data(std::move(raw));
  }
}

pb::ModelProto parse_model(std::string_view bytes) {
  pb::ModelProto m;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    fail("onnx: the model is ", bytes.size(), " bytes, over protobuf's 2 GiB limit");
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    fail("onnx: the data is not a valid ModelProto (truncated or not a protobuf)");
  return m;
}

}  // namespace plumb::onnx_io

namespace plumb {

Tensor tensor_from_onnx(std::string_view bytes) {
  ::onnx::TensorProto p;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    fail("onnx: the data is not a valid TensorProto (truncated or not a protobuf)");
  return onnx_io::tensor_from_proto(p);
}

std::string tensor_to_onnx(const Tensor& t, const std::string& name) {
  ::onnx::TensorProto p;
  onnx_io::tensor_to_proto(t, name, p);
  return p.SerializeAsString();
}

void check_onnx(std::string_view bytes) {
  ::onnx::ModelProto m = onnx_io::parse_model(bytes);
  try {
    ::onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    fail("onnx checker: ", e.what());
  }
  // The full check, as onnx.checker.check_model(full_check=True): strict shape inference with type
  // checks, which throws where an inferred type or shape contradicts a declared one.
  try {
    ::onnx::shape_inference::InferShapes(m, ::onnx::OpSchemaRegistry::Instance(),
                                         ::onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict=*/1,
                                                                       /*data_prop=*/true));
  } catch (const std::exception& e) {
    fail("onnx checker (shape inference): ", e.what());
  }
}

}  // namespace plumb
