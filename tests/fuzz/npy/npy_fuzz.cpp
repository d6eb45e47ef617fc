// libFuzzer target for plumb::parse_npy.
//
// Every input is parsed. plumb::Error is the expected, clean rejection of a malformed file; any
// other exception, a sanitizer report or a failed check below is a bug. An accepted file must give
// a well-formed CPU tensor whose every element reads back (element_as_double), and
// serialize_npy -> parse_npy must reproduce its shape, dtype and values bit for bit.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "plumb/error.h"
#include "plumb/npy.h"
#include "plumb/shape.h"
#include "plumb/tensor.h"
#include "../fuzz_util.h"

namespace {

using fuzz_util::bug;
using fuzz_util::check;

std::string printable(const plumb::Tensor& t) {
  return std::string(plumb::dtype_name(t.dtype())) + plumb::shape_str(t.shape());
}

// Same value: bitwise equal doubles, or both NaN (the raw-byte comparison checks payloads).
bool same_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Checks invariants of a tensor parse_npy returned, and reads every element.
std::vector<double> inspect(const plumb::Tensor& t, size_t input_size, const char* which) {
  check(t.defined(), std::string(which) + ": parse_npy returned an undefined tensor");
  const std::string tag = std::string(which) + " tensor " + printable(t);
  // The data section holds every byte of the tensor, so it can never be larger than the input.
  check(t.nbytes() <= input_size, tag + " holds more bytes than the input had");
  return fuzz_util::check_tensor(t, tag);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz_util::install("npy_fuzz");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  plumb::Tensor t;
  try {
    t = plumb::parse_npy(bytes, "fuzz.npy");
  } catch (const plumb::Error& e) {
    // The message must name the file, as read_npy's callers rely on.
    check(std::string(e.what()).find("fuzz.npy") != std::string::npos,
          std::string("rejection does not name the file: ") + e.what());
    return 0;
  }
  const std::vector<double> values = inspect(t, size, "parsed");

  std::string again;
  try {
    again = plumb::serialize_npy(t);
  } catch (const plumb::Error& e) {
    bug("serialize_npy rejected " + printable(t) + " that parse_npy accepted: " + e.what());
  }
  check(again.size() >= t.nbytes() && (again.size() - t.nbytes()) % 64 == 0,
        "serialize_npy's data for " + printable(t) + " does not start on a 64-byte boundary");

  plumb::Tensor u;
  try {
    u = plumb::parse_npy(again, "roundtrip.npy");
  } catch (const plumb::Error& e) {
    bug("parse_npy rejected serialize_npy's output for " + printable(t) + ": " + e.what());
  }
  const std::vector<double> values2 = inspect(u, again.size(), "round-tripped");

  const std::string pair = printable(t) + " -> " + printable(u);
  check(u.shape() == t.shape(), "round trip changed the shape: " + pair);
  check(u.dtype() == t.dtype(), "round trip changed the dtype: " + pair);
  for (size_t i = 0; i < values.size(); ++i)
    check(same_value(values[i], values2[i]), "round trip changed element " + std::to_string(i) + " of " +
                                                 printable(t) + ": " + std::to_string(values[i]) + " -> " +
                                                 std::to_string(values2[i]));
  check(t.nbytes() == 0 || std::memcmp(t.raw_data(), u.raw_data(), t.nbytes()) == 0,
        "round trip changed the raw bytes of " + pair);
  check(plumb::serialize_npy(u) == again, "serialize_npy is not deterministic for " + printable(u));
  return 0;
}
