#pragma once
// Shared by ONNX export and import: element types, TensorProto <-> Tensor, parsing a ModelProto.
// The protobuf namespace is ::onnx; plumb's ONNX code lives in plumb::onnx_io to keep them apart.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "plumb/tensor.h"

namespace plumb::onnx_io {

int32_t to_onnx_dtype(DType t);    // throws Error for dtypes ONNX cannot hold
DType from_onnx_dtype(int32_t t);  // throws Error naming the ONNX type plumb lacks
// Reads raw_data or the typed fields; throws Error on external data, a size mismatch or absurd dims.
Tensor tensor_from_proto(const ::onnx::TensorProto& p);
void tensor_to_proto(const Tensor& t, const std::string& name, ::onnx::TensorProto& p);
// Throws Error when the bytes are not a ModelProto.
::onnx::ModelProto parse_model(std::string_view bytes);

}  // namespace plumb::onnx_io
