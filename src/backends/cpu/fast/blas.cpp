// OpenBLAS matmul: one GEMM per batch matrix straight over plumb's strided buffers (transposed
// views become 'T' operands, broadcast batch dims stride 0), or one GEMM for the whole batch when
// A's batch is contiguous in M and B is shared (x @ w^T of a linear layer). Also sets library threads.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <type_traits>
#include <vector>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/fast/fast.h"
#include "backends/cpu/fast/onednn_common.h"

namespace plumb {
// Called by set_num_threads. OpenBLAS and oneDNN run single-threaded inside plumb's pool's threads:
// their own pools busy-wait after each call and, on a loaded machine, oversubscribed spinners from three
// runtimes slowed small training steps 10-20x. Large GEMMs and convolutions split work over plumb's pool.
void configure_library_threads(int /*n*/) {
  openblas_set_num_threads(1);
  backends::fast::set_onednn_threads(1);
}
}  // namespace plumb

namespace plumb::backends::fast {

namespace {

// How BLAS reads one (rows x cols) operand in row-major terms.
struct Operand {
  CBLAS_TRANSPOSE trans = CblasNoTrans;
  int64_t ld = 0;
  bool copy = false;  // neither layout fits: gather into a contiguous scratch matrix
};

// Element (i, j) lives at i*rs + j*cs. 'N' needs unit column stride, 'T' unit row stride; ld must
// cover a full row (resp. column) so rows do not overlap, as BLAS requires.
Operand classify(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (cs == 1 || cols == 1) {
    const int64_t ld = rows > 1 ? rs : std::max<int64_t>(cols, 1);
    if (ld >= std::max<int64_t>(cols, 1)) return {CblasNoTrans, ld, false};
  }
  if (rs == 1 || rows == 1) {
    const int64_t ld = cols > 1 ? cs : std::max<int64_t>(rows, 1);
    if (ld >= std::max<int64_t>(rows, 1)) return {CblasTrans, ld, false};
  }
  return {CblasNoTrans, std::max<int64_t>(cols, 1), true};
}

template <class T>
void gemm_serial(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                 const T* b, int64_t ldb, T* c, int64_t ldc) {
  const auto i = [](int64_t v) { return static_cast<blasint>(v); };
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, i(m), i(n), i(k), 1.0f, a, i(lda), b, i(ldb), 0.0f, c, i(ldc));
  else
    cblas_dgemm(CblasRowMajor, ta, tb, i(m), i(n), i(k), 1.0, a, i(lda), b, i(ldb), 0.0, c, i(ldc));
}

// c (1 x n) = op(a) (1 x k) @ op(b) (k x n) as one GEMV over b's stored matrix.
template <class T>
void gemv_row(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
              int64_t ldb, T* c) {
  const auto i = [](int64_t v) { return static_cast<blasint>(v); };
  const int64_t inc_a = ta == CblasNoTrans ? 1 : lda;  // op(a)'s row: contiguous, or a column of stored a
  // b stored (k x n): c = b^T a; stored (n x k) ('T'): c = b a.
  const CBLAS_TRANSPOSE t = tb == CblasNoTrans ? CblasTrans : CblasNoTrans;
  const int64_t rows = tb == CblasNoTrans ? k : n, cols = tb == CblasNoTrans ? n : k;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemv(CblasRowMajor, t, i(rows), i(cols), 1.0f, b, i(ldb), a, i(inc_a), 0.0f, c, 1);
  else
    cblas_dgemv(CblasRowMajor, t, i(rows), i(cols), 1.0, b, i(ldb), a, i(inc_a), 0.0, c, 1);
}

// OpenBLAS runs single-threaded (see configure_library_threads); GEMMs big enough to amortize a pool
// wake-up split C's rows over plumb's pool, each block one serial GEMM.
constexpr int64_t kParallelGemmMacs = int64_t{1} << 20;
constexpr int64_t kMinRowsPerTask = 8;

template <class T>
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
          const T* b, int64_t ldb, T* c, int64_t ldc) {
  for (int64_t v : {m, n, k, lda, ldb, ldc})
    PLUMB_CHECK(v <= INT_MAX, "matmul (openblas): dimension or stride ", v, " exceeds the 32-bit BLAS interface");
  if (m == 1) {  // a row vector (batch-1 inference): GEMV; OpenBLAS's GEMM would repack all of B per call
    gemv_row<T>(ta, tb, n, k, a, lda, b, ldb, c);
    return;
  }
  if (m * n * k < kParallelGemmMacs || m < 2 * kMinRowsPerTask) {
    gemm_serial<T>(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
    return;
  }
  // Row i of op(A) starts at a + i*lda ('N') or a + i ('T').
  const int64_t a_row = ta == CblasNoTrans ? lda : 1;
  parallel_for(m, kMinRowsPerTask, [&](int64_t begin, int64_t end) {
    gemm_serial<T>(ta, tb, end - begin, n, k, a + begin * a_row, lda, b, ldb, c + begin * ldc, ldc);
  });
}

// Copies a strided (rows x cols) matrix to row-major scratch.
template <class T>
const T* gather(const T* p, int64_t rows, int64_t cols, int64_t rs, int64_t cs, std::vector<T>& scratch) {
  scratch.resize(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) scratch[i * cols + j] = p[i * rs + j * cs];
  return scratch.data();
}

// Strides of t's batch dims aligned to a batch of rank `rank`; broadcast (missing or size-1) dims get 0.
std::vector<int64_t> batch_strides(const Tensor& t, size_t rank) {
  const size_t tb = t.shape().size() - 2;
  std::vector<int64_t> s(rank, 0);
  for (size_t i = 0; i < tb; ++i) s[rank - tb + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return s;
}

// When rows of all of A's batch matrices form one evenly strided (batches*M x K) matrix, returns its
// row stride; otherwise 0.
int64_t folded_row_stride(const std::vector<int64_t>& batch_shape, const std::vector<int64_t>& sa, int64_t m,
                          int64_t k, int64_t a_rs, int64_t a_cs) {
  if (!(a_cs == 1 || k == 1)) return 0;
  std::vector<std::pair<int64_t, int64_t>> dims;  // (size, stride), innermost first, size-1 dims dropped
  if (m > 1) dims.emplace_back(m, a_rs);
  for (size_t d = batch_shape.size(); d-- > 0;)
    if (batch_shape[d] > 1) dims.emplace_back(batch_shape[d], sa[d]);
  if (dims.empty()) return std::max<int64_t>(k, 1);
  const int64_t rs = dims[0].second;
  if (rs < std::max<int64_t>(k, 1)) return 0;
  int64_t expected = rs;
  for (const auto& [size, stride] : dims) {
    if (stride != expected) return 0;
    expected *= size;
  }
  return rs;
}

// a: (..., M, K), b: (..., K, N) -> y: (..., M, N), y contiguous.
template <class T>
void matmul_blas(const Tensor& a, const Tensor& b, Tensor& y) {
  const size_t rank = y.shape().size();
  const int64_t m = y.shape()[rank - 2], n = y.shape()[rank - 1], k = a.shape().back();
  if (y.numel() == 0) return;
  T* py = y.data<T>();
  if (k == 0) {
    std::fill(py, py + y.numel(), T(0));
    return;
  }
  const std::vector<int64_t> batch_shape(y.shape().begin(), y.shape().end() - 2);
  const std::vector<int64_t> sa = batch_strides(a, rank - 2), sb = batch_strides(b, rank - 2);
  const int64_t batches = numel(batch_shape);
  const int64_t a_rs = a.strides()[a.dim() - 2], a_cs = a.strides()[a.dim() - 1];
  const int64_t b_rs = b.strides()[b.dim() - 2], b_cs = b.strides()[b.dim() - 1];
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  const Operand ob = classify(k, n, b_rs, b_cs);
  std::vector<T> scratch_a, scratch_b;

  const bool b_shared = std::all_of(sb.begin(), sb.end(), [](int64_t s) { return s == 0; });
  if (b_shared && !ob.copy) {
    if (const int64_t lda = folded_row_stride(batch_shape, sa, m, k, a_rs, a_cs)) {
      gemm<T>(CblasNoTrans, ob.trans, batches * m, n, k, pa, lda, pb, ob.ld, py, n);
      return;
    }
  }
  const Operand oa = classify(m, k, a_rs, a_cs);
  for (int64_t batch = 0; batch < batches; ++batch) {
    const T* ma = pa + cpu::offset_of(batch, batch_shape, sa);
    const T* mb = pb + cpu::offset_of(batch, batch_shape, sb);
    if (oa.copy) ma = gather(ma, m, k, a_rs, a_cs, scratch_a);
    if (ob.copy && (batch == 0 || !b_shared)) mb = gather(mb, k, n, b_rs, b_cs, scratch_b);
    else if (ob.copy) mb = scratch_b.data();  // shared B: gathered once
    gemm<T>(oa.trans, ob.trans, m, n, k, ma, oa.ld, mb, ob.ld, py + batch * m * n, n);
  }
}

void matmul(const KernelArgs& args) {
  cpu::with_float(args.inputs[0].dtype(),
                  [&](auto t) { matmul_blas<decltype(t)>(args.inputs[0], args.inputs[1], args.outputs[0]); });
}

}  // namespace

void register_blas() {
  configure_library_threads(1);  // also when set_num_threads is never called (library defaults: every core)
  register_kernel(Kernel{"matmul", DeviceType::cpu, "openblas", {DType::f32, DType::f64}, &matmul, 10, true});
}

}  // namespace plumb::backends::fast
