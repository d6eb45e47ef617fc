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

#include "plumb/allocator.h"
#include "plumb/error.h"
#include "plumb/npy.h"
#include "plumb/shape.h"
#include "plumb/tensor.h"

namespace {

// Exact-size, uncached host allocator. plumb's CPU allocator rounds sizes up to 64-byte classes
// and caches freed blocks (its ASan guard tests __SANITIZE_ADDRESS__, which clang 14 does not
// define), so with it ASan would miss overruns into the slack and uses after free.
class ExactAllocator final : public plumb::Allocator {
 public:
  void* allocate(size_t nbytes) override {
    void* p = nullptr;
    if (posix_memalign(&p, 64, nbytes ? nbytes : 1) != 0) plumb::fail("npy_fuzz: out of memory");
    return p;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
  plumb::AllocatorStats stats() const override { return {}; }
  void reset_peak() override {}
};

std::string printable(const plumb::Tensor& t) {
  return std::string(plumb::dtype_name(t.dtype())) + plumb::shape_str(t.shape());
}

[[noreturn]] void bug(const std::string& what) {
  std::fprintf(stderr, "npy_fuzz: BUG: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

void check(bool ok, const std::string& what) {
  if (!ok) bug(what);
}

// Same value: bitwise equal doubles, or both NaN (the raw-byte comparison checks payloads).
bool same_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Checks invariants of a tensor parse_npy returned, and reads every element.
std::vector<double> inspect(const plumb::Tensor& t, size_t input_size, const char* which) {
  const std::string tag = std::string(which) + " tensor " + (t.defined() ? printable(t) : "");
  check(t.defined(), std::string(which) + ": parse_npy returned an undefined tensor");
  check(!t.is_meta() && t.device() == plumb::kCPU, tag + " is not on the CPU");
  // Fresh row-major storage. (Not t.is_contiguous(): that is false for empty shapes such as (2, 0, 3),
  // where contiguous_strides gives (3, 3, 1) but is_contiguous multiplies the expected stride by 0.)
  check(t.offset() == 0 && t.strides() == plumb::contiguous_strides(t.shape()),
        tag + " does not have row-major strides from offset 0");
  for (int64_t d : t.shape()) check(d >= 0, tag + " has a negative dimension");
  const int64_t n = t.numel();
  check(n >= 0, tag + " has a negative numel");
  // The data section holds every byte of the tensor, so it can never be larger than the input.
  check(t.nbytes() <= input_size, tag + " holds more bytes than the input had");
  check(t.storage() && t.storage()->nbytes() >= t.nbytes(), tag + " has storage smaller than its data");
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double v = plumb::element_as_double(t, i);
    if (t.dtype() == plumb::DType::boolean)
      check(v == 0.0 || v == 1.0, tag + ": bool element " + std::to_string(i) + " is not 0 or 1");
    values[static_cast<size_t>(i)] = v;
  }
  return values;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static ExactAllocator allocator;
  plumb::set_allocator(plumb::DeviceType::cpu, &allocator);
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
