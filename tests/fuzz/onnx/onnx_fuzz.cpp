// libFuzzer target for plumb::import_onnx and graph::execute.
//
// Every input is imported. plumb::Error is the expected, clean rejection of a malformed or
// unsupported model; any other exception, a sanitizer report, a hang or a failed check below is a
// bug. An imported graph must validate and hold sane specs: no negative dims, no value past the
// importer's own limit for absurd dims (kAbsurdElements, kAbsurdBytes), parameter and constant data
// matching their specs. A small graph (kMaxExecElements, kMaxExecFlops) is then executed twice on the same
// deterministic inputs, once with every fresh allocation filled with 0xA5 and once with 0x5A: the
// outputs must match their specs and be bitwise equal, so an output that reads uninitialized memory
// shows up as a difference. With ONNX_FUZZ_VERBOSE=1 set, each input's outcome is printed.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/allocator.h"
#include "plumb/error.h"
#include "plumb/graph.h"
#include "plumb/onnx.h"
#include "plumb/shape.h"
#include "plumb/tensor.h"
#include "plumb/thread_pool.h"
#include "../fuzz_util.h"

namespace {

using fuzz_util::bug;
using fuzz_util::check;
using plumb::graph::Graph;
using plumb::graph::Value;
using plumb::graph::ValueKind;

// What docs/onnx.md calls absurd (over 2^31 elements or 16 GiB): the importer rejects such inputs,
// so no value of an imported graph may be larger.
constexpr double kAbsurdElements = 2147483648.0;
constexpr double kAbsurdBytes = 17179869184.0;
// Executed only when every value together holds at most this many elements and the graph's cost
// stays under this many flops, so that one input runs in well under a second.
constexpr double kMaxExecElements = 1 << 22;
constexpr double kMaxExecFlops = 5e7;

bool g_verbose = false;

// Exact-size host allocator (like fuzz_util's, so ASan sees every byte) that fills each block with
// g_fill: two runs with different fills expose outputs that depend on uninitialized memory.
unsigned char g_fill = 0xA5;
class FillingAllocator final : public plumb::Allocator {
 public:
  void* allocate(size_t nbytes) override {
    void* p = nullptr;
    if (posix_memalign(&p, 64, nbytes ? nbytes : 1) != 0) plumb::fail("onnx_fuzz: out of memory");
    std::memset(p, g_fill, nbytes);
    return p;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
  plumb::AllocatorStats stats() const override { return {}; }
  void reset_peak() override {}
};

// Elements of a spec as a double (no overflow); -1 when a dim is negative.
double spec_elements(const plumb::TensorSpec& s) {
  double n = 1;
  for (int64_t d : s.shape) {
    if (d < 0) return -1;
    n *= static_cast<double>(d);
  }
  return n;
}

std::string describe(const Value& v) {
  return std::string(plumb::graph::value_kind_name(v.kind)) + " '" + v.name + "' " + v.spec.str();
}

// Checks the invariants of an imported graph; returns the elements over all its values.
double inspect(const Graph& g) {
  try {
    g.validate();
  } catch (const plumb::Error& e) {
    bug(std::string("import_onnx returned a graph that does not validate: ") + e.what());
  }
  double total = 0;
  for (const Value& v : g.values) {
    const double n = spec_elements(v.spec);
    check(n >= 0, describe(v) + " has a negative dim");
    check(n <= kAbsurdElements && n * static_cast<double>(plumb::dtype_size(v.spec.dtype)) <= kAbsurdBytes,
          describe(v) + " is over 2^31 elements or 16 GiB: absurd dims were accepted");
    total += n;
    if (v.kind == ValueKind::parameter || v.kind == ValueKind::constant) {
      check(v.data.defined(), describe(v) + " has no data");
      check(v.data.shape() == v.spec.shape && v.data.dtype() == v.spec.dtype,
            describe(v) + " holds data " + v.data.spec().str());
    }
  }
  for (int id : g.inputs) check(g.value(id).kind == ValueKind::input, describe(g.value(id)) + " is listed as an input");
  return total;
}

// Deterministic input values: small floats, small integers (also valid as indices), bools.
plumb::Tensor make_input(const plumb::TensorSpec& spec) {
  plumb::Tensor t = plumb::Tensor::empty(spec.shape, spec.dtype, spec.device);
  const bool integral = spec.dtype == plumb::DType::i64 || spec.dtype == plumb::DType::i32 ||
                        spec.dtype == plumb::DType::i8 || spec.dtype == plumb::DType::u8;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = static_cast<double>((i * 7919) % 17) / 8.0 - 1.0;
    if (integral) v = static_cast<double>(i % 3);
    if (spec.dtype == plumb::DType::boolean) v = static_cast<double>(i % 2);
    plumb::set_element_from_double(t, i, v);
  }
  return t;
}

// Runs the graph with fresh allocations filled with `fill`; returns every output element's bits.
std::vector<std::vector<uint64_t>> run(const Graph& g, const std::vector<plumb::Tensor>& inputs, unsigned char fill) {
  g_fill = fill;
  std::vector<plumb::Tensor> outputs;
  try {
    outputs = plumb::graph::execute(g, inputs);
  } catch (const plumb::Error&) {
    return {};  // data-dependent rejections (an index out of range) are clean
  }
  check(outputs.size() == g.outputs.size(), "execute returned " + std::to_string(outputs.size()) + " outputs for " +
                                                std::to_string(g.outputs.size()));
  std::vector<std::vector<uint64_t>> bits(outputs.size());
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Value& v = g.value(g.outputs[k]);
    const plumb::Tensor& t = outputs[k];
    check(t.defined(), "output " + describe(v) + " is undefined");
    check(t.shape() == v.spec.shape && t.dtype() == v.spec.dtype,
          "output " + describe(v) + " came back as " + t.spec().str());
    check(!t.is_meta(), "output " + describe(v) + " is on the meta device");
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double d = plumb::element_as_double(t, i);
      uint64_t b = 0;
      std::memcpy(&b, &d, sizeof b);
      bits[k].push_back(b);
    }
  }
  return bits;
}

void execute_twice(const Graph& g) {
  std::vector<plumb::Tensor> inputs;
  for (int id : g.inputs) {
    const plumb::TensorSpec& spec = g.value(id).spec;
    if (spec.device != plumb::kCPU) return;
    inputs.push_back(make_input(spec));
  }
  const auto first = run(g, inputs, 0xA5);
  const auto second = run(g, inputs, 0x5A);
  if (g_verbose) std::fprintf(stderr, "onnx_fuzz: %s\n", first.empty() ? "execute threw Error" : "executed");
  check(first.empty() == second.empty(), "execute failed on one of two identical runs");
  for (size_t k = 0; k < first.size(); ++k)
    for (size_t i = 0; i < first[k].size(); ++i)
      check(first[k][i] == second[k][i], "output " + describe(g.value(g.outputs[k])) + " element " +
                                             std::to_string(i) + " depends on uninitialized memory");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz_util::install("onnx_fuzz");
  static FillingAllocator allocator;
  plumb::set_allocator(plumb::DeviceType::cpu, &allocator);
  plumb::set_num_threads(1);  // deterministic, and no pool threads to confuse leak checks
  const char* verbose = std::getenv("ONNX_FUZZ_VERBOSE");
  g_verbose = verbose && *verbose && *verbose != '0';
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Graph g;
  try {
    g = plumb::import_onnx(bytes);
  } catch (const plumb::Error& e) {
    check(std::strlen(e.what()) > 0, "import_onnx threw an Error with an empty message");
    if (g_verbose) std::fprintf(stderr, "onnx_fuzz: rejected: %s\n", e.what());
    return 0;
  } catch (const std::exception& e) {
    bug(std::string("import_onnx threw a non-plumb exception: ") + e.what());
  }
  const double elements = inspect(g);
  if (g_verbose)
    std::fprintf(stderr, "onnx_fuzz: imported %zu nodes, %zu values, %g elements, %g flops\n", g.nodes.size(),
                 g.values.size(), elements, g.total_cost().flops);
  if (elements <= kMaxExecElements && g.total_cost().flops <= kMaxExecFlops) {
    try {
      execute_twice(g);
    } catch (const std::exception& e) {
      bug(std::string("executing an imported graph threw a non-plumb exception: ") + e.what());
    }
  }
  return 0;
}
