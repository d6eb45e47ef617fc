// libFuzzer target for plumb::parse_safetensors.
//
// Every input is parsed. plumb::Error is the expected, clean rejection of a malformed file (its
// message must name the file); any other exception, a sanitizer report or a failed check below is
// a bug. An accepted file must give well-formed CPU tensors whose every element reads back
// (element_as_double), and serialize_safetensors -> parse_safetensors must reproduce the names
// (in order), dtypes, shapes, values (bit for bit) and metadata; serializing the round-tripped
// contents again must give the same bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "plumb/error.h"
#include "plumb/safetensors.h"
#include "plumb/shape.h"
#include "plumb/tensor.h"
#include "../fuzz_util.h"

namespace {

using fuzz_util::bug;
using fuzz_util::check;

std::string printable(const std::string& name, const plumb::Tensor& t) {
  return "'" + name + "' " + std::string(plumb::dtype_name(t.dtype())) + plumb::shape_str(t.shape());
}

// Checks invariants of contents parse_safetensors returned, and reads every element. `input_size`
// bounds the tensors' total size (they tile the data buffer, which follows the header).
void inspect(const plumb::SafetensorsContents& c, size_t input_size, const char* which) {
  uint64_t total = 0;
  for (const auto& [name, t] : c.tensors) {
    const std::string tag = std::string(which) + " tensor " + (t.defined() ? printable(name, t) : "'" + name + "'");
    check(name != "__metadata__", tag + " has the reserved name");
    fuzz_util::check_tensor(t, tag);
    total += t.nbytes();
    check(total <= input_size, tag + ": the tensors hold more bytes than the input had");
  }
}

void compare(const plumb::SafetensorsContents& a, const plumb::SafetensorsContents& b) {
  check(a.tensors.size() == b.tensors.size(), "round trip changed the number of tensors: " +
                                                  std::to_string(a.tensors.size()) + " -> " +
                                                  std::to_string(b.tensors.size()));
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& [an, at] = a.tensors[i];
    const auto& [bn, bt] = b.tensors[i];
    const std::string pair = printable(an, at) + " -> " + printable(bn, bt);
    check(an == bn, "round trip changed tensor " + std::to_string(i) + "'s name: " + pair);
    check(at.dtype() == bt.dtype(), "round trip changed the dtype: " + pair);
    check(at.shape() == bt.shape(), "round trip changed the shape: " + pair);
    check(at.nbytes() == bt.nbytes(), "round trip changed the byte size: " + pair);
    check(at.nbytes() == 0 || std::memcmp(at.raw_data(), bt.raw_data(), at.nbytes()) == 0,
          "round trip changed the values (bitwise) of " + pair);
  }
  check(a.metadata == b.metadata, "round trip changed the metadata (" + std::to_string(a.metadata.size()) +
                                      " -> " + std::to_string(b.metadata.size()) + " entries)");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz_util::install("safetensors_fuzz");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  plumb::SafetensorsContents c;
  try {
    c = plumb::parse_safetensors(bytes, "fuzz.safetensors");
  } catch (const plumb::Error& e) {
    // The message must name the file, as read_safetensors' callers rely on.
    check(std::string(e.what()).find("fuzz.safetensors") != std::string::npos,
          std::string("rejection does not name the file: ") + e.what());
    return 0;
  }
  inspect(c, size, "parsed");

  std::string again;
  try {
    again = plumb::serialize_safetensors(c.tensors, c.metadata);
  } catch (const plumb::Error& e) {
    bug(std::string("serialize_safetensors rejected what parse_safetensors accepted: ") + e.what());
  }
  check(again.size() >= 8, "serialize_safetensors wrote fewer than 8 bytes");
  uint64_t header = 0;
  for (int i = 0; i < 8; ++i) header |= static_cast<uint64_t>(static_cast<unsigned char>(again[i])) << (8 * i);
  check(header % 8 == 0 && header <= again.size() - 8,
        "serialize_safetensors' header length " + std::to_string(header) + " is not 8-aligned or in range");

  plumb::SafetensorsContents d;
  try {
    d = plumb::parse_safetensors(again, "roundtrip.safetensors");
  } catch (const plumb::Error& e) {
    bug(std::string("parse_safetensors rejected serialize_safetensors' output: ") + e.what());
  }
  inspect(d, again.size(), "round-tripped");
  compare(c, d);
  check(plumb::serialize_safetensors(d.tensors, d.metadata) == again,
        "serialize_safetensors is not deterministic across a round trip");
  return 0;
}
