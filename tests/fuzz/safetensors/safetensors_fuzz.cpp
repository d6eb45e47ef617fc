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

#include "plumb/allocator.h"
#include "plumb/error.h"
#include "plumb/safetensors.h"
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
    if (posix_memalign(&p, 64, nbytes ? nbytes : 1) != 0) plumb::fail("safetensors_fuzz: out of memory");
    return p;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
  plumb::AllocatorStats stats() const override { return {}; }
  void reset_peak() override {}
};

std::string printable(const std::string& name, const plumb::Tensor& t) {
  return "'" + name + "' " + std::string(plumb::dtype_name(t.dtype())) + plumb::shape_str(t.shape());
}

[[noreturn]] void bug(const std::string& what) {
  std::fprintf(stderr, "safetensors_fuzz: BUG: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

void check(bool ok, const std::string& what) {
  if (!ok) bug(what);
}

// Checks invariants of contents parse_safetensors returned, and reads every element. `input_size`
// bounds the tensors' total size (they tile the data buffer, which follows the header).
void inspect(const plumb::SafetensorsContents& c, size_t input_size, const char* which) {
  uint64_t total = 0;
  for (const auto& [name, t] : c.tensors) {
    const std::string tag = std::string(which) + " tensor " + (t.defined() ? printable(name, t) : "'" + name + "'");
    check(t.defined(), tag + " is undefined");
    check(name != "__metadata__", tag + " has the reserved name");
    check(!t.is_meta() && t.device() == plumb::kCPU, tag + " is not on the CPU");
    // Fresh row-major storage. (Not t.is_contiguous(): that is false for empty shapes such as
    // (2, 0, 3), where contiguous_strides gives (3, 3, 1) but is_contiguous multiplies by 0.)
    check(t.offset() == 0 && t.strides() == plumb::contiguous_strides(t.shape()),
          tag + " does not have row-major strides from offset 0");
    for (int64_t d : t.shape()) check(d >= 0, tag + " has a negative dimension");
    const int64_t n = t.numel();
    check(n >= 0, tag + " has a negative numel");
    check(t.nbytes() == static_cast<size_t>(n) * plumb::dtype_size(t.dtype()), tag + ": nbytes != numel * size");
    check(t.storage() && t.storage()->nbytes() >= t.nbytes(), tag + " has storage smaller than its data");
    total += t.nbytes();
    check(total <= input_size, tag + ": the tensors hold more bytes than the input had");
    for (int64_t i = 0; i < n; ++i) {
      const double v = plumb::element_as_double(t, i);
      if (t.dtype() == plumb::DType::boolean)
        check(v == 0.0 || v == 1.0, tag + ": bool element " + std::to_string(i) + " is not 0 or 1");
    }
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
  static ExactAllocator allocator;
  plumb::set_allocator(plumb::DeviceType::cpu, &allocator);
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
