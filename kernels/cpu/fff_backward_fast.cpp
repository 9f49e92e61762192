// cpu.fast FFF backward: the equations of reference/fff_backward.hpp as OpenBLAS SGEMMs.
//
// Soft: per block of rows, A = X W1^T (the leaves' pre-activations, recomputed: see
// suites/fff_backward.cpp for why they are not saved), Q = G W2^T (dy through every leaf's second
// layer) and G B2^T as three SGEMMs; one pass per row (OpenMP) turns them into the mixed hidden
// activations M h, the hidden gradients M q [a > 0] and V = dy . leaf(x), runs the node recursion
// and leaves dL/dlogit per node; then every weight gradient is one SGEMM over the block's rows
// (accumulated across blocks) and dx two more.
//
// Hard: the rows are grouped by leaf and each occupied leaf's rows gathered into a block, on which
// the same algebra runs with single-threaded SGEMMs while OpenMP spreads the leaves over the
// cores; leaves no row chose get zero gradients. Dense [leaves, ...] gradient outputs are what
// the op declares; an accumulate-into variant (adding each chosen leaf's gradient into the
// caller's buffers, never touching the others) is the sparse alternative a training framework
// with sparse updates would use, and would save writing the zeros.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/fff_backward.hpp"

namespace opbench::cpu::fast {

namespace {

// Rows per block of the soft backward: the batch of the full sweep (1024) in one block, so every
// weight gradient is one SGEMM with K = 1024; larger batches accumulate block by block.
constexpr std::int64_t kSoftBackwardRows = 1024;

// C[m, n] = alpha op(A) op(B) + beta C, row-major; nothing when a dimension is empty.
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
          std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (std::int64_t r = 0; r < m; ++r) {
      for (std::int64_t j = 0; j < n; ++j) c[r * ldc + j] = beta == 0 ? 0 : beta * c[r * ldc + j];
    }
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a,
              static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

// out[j] (+)= sum over rows of m[r, j] (written when first, else added).
void column_sums(const float* m, std::int64_t rows, std::int64_t cols, bool first, float* out) {
  if (first) std::fill(out, out + cols, 0.0f);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* mr = m + r * cols;
    for (std::int64_t j = 0; j < cols; ++j) out[j] += mr[j];
  }
}

// A grown-only scratch buffer per thread, so that timed calls do not fault in fresh pages.
float* scratch(std::vector<float>& v, std::int64_t n) {
  if (static_cast<std::int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
  return v.data();
}

void zero(float* a, std::int64_t n) {
  std::fill(a, a + n, 0.0f);
}

// --- soft ---------------------------------------------------------------------------------------

struct SoftBlock {
  const float *x, *p, *dy;  // the block's first row
  std::int64_t rows;
  bool first;  // the first block writes the weight gradients, later ones add to them
};

// The per-row pass: from the pre-activations `a` and projections `q` ([rows, leaves *
// leaf_width], overwritten in place by M h and M q [a > 0]) and gb = dy . b2 ([rows, leaves],
// overwritten by the mixture weights M), the node gradients dz[rows, nodes]; for node networks
// also their hidden activations r (npre in place: ReLU(pre)) and gradients dp[rows, nodes *
// node_width].
void soft_rows(const fff::Weights& w, const fff::Dims& d, const SoftBlock& blk, float* a, float* q,
               float* gb, float* dz, float* npre, float* dp) {
  const std::int64_t nodes = d.nodes(), leaves = d.leaves(), lw = d.leaf_width;
  const std::int64_t leaf_cols = leaves * lw, pcols = fff::saved_columns(d);
  const std::int64_t nw = d.node_width, node_cols = nodes * nw;
#pragma omp parallel if (blk.rows >= 64 && omp_get_max_threads() > 1)
  {
    std::vector<float> mix(static_cast<std::size_t>(2 * leaves - 1)), value(mix.size());
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < blk.rows; ++r) {
      const float* pr = blk.p + r * pcols;
      mix[0] = 1;
      for (std::int64_t n = 0; n < nodes; ++n) {
        mix[2 * n + 1] = mix[n] * (1 - pr[n]);
        mix[2 * n + 2] = mix[n] * pr[n];
      }
      float* ar = a + r * leaf_cols;
      float* qr = q + r * leaf_cols;
      for (std::int64_t l = 0; l < leaves; ++l) {
        const float m = mix[nodes + l];
        float v = gb[r * leaves + l];
        for (std::int64_t j = l * lw; j < (l + 1) * lw; ++j) {
          const float pre = ar[j] + w.leaf_b1[j];
          const float h = pre > 0 ? pre : 0;
          v += h * qr[j];
          ar[j] = m * h;
          qr[j] = pre > 0 ? m * qr[j] : 0;
        }
        value[nodes + l] = v;
        gb[r * leaves + l] = m;
      }
      for (std::int64_t n = nodes - 1; n >= 0; --n) {
        const float left = value[2 * n + 1], right = value[2 * n + 2];
        value[n] = (1 - pr[n]) * left + pr[n] * right;
        const float g = mix[n] * (right - left) * pr[n] * (1 - pr[n]);
        dz[r * nodes + n] = g;
        for (std::int64_t k = 0; nw > 1 && k < nw; ++k) {
          const std::int64_t nk = n * nw + k;
          const float pre = npre[r * node_cols + nk] + w.node_b1[nk];
          npre[r * node_cols + nk] = pre > 0 ? pre : 0;
          dp[r * node_cols + nk] = pre > 0 ? g * w.node_w2[nk] : 0;
        }
      }
    }
  }
}

void soft_block(const fff::Weights& w, const fff::Dims& d, const SoftBlock& blk, float* dx,
                const fff::Gradients& g) {
  thread_local std::vector<float> a_buf, q_buf, gb_buf, dz_buf, npre_buf, dp_buf;
  const std::int64_t rows = blk.rows, nodes = d.nodes(), leaves = d.leaves();
  const std::int64_t leaf_cols = leaves * d.leaf_width, nw = d.node_width;
  const std::int64_t node_cols = nodes * nw;
  const float beta = blk.first ? 0.0f : 1.0f;
  float* a = scratch(a_buf, rows * leaf_cols);
  float* q = scratch(q_buf, rows * leaf_cols);
  float* gb = scratch(gb_buf, rows * leaves);
  float* dz = scratch(dz_buf, rows * std::max<std::int64_t>(nodes, 1));
  float* npre = scratch(npre_buf, nw > 1 ? rows * node_cols : 1);
  float* dp = scratch(dp_buf, nw > 1 ? rows * node_cols : 1);
  gemm(false, true, rows, leaf_cols, d.d_in, blk.x, d.d_in, w.leaf_w1, d.d_in, 0, a, leaf_cols);
  gemm(false, true, rows, leaf_cols, d.d_out, blk.dy, d.d_out, w.leaf_w2, d.d_out, 0, q, leaf_cols);
  gemm(false, true, rows, leaves, d.d_out, blk.dy, d.d_out, w.leaf_b2, d.d_out, 0, gb, leaves);
  if (nw > 1) {
    gemm(false, true, rows, node_cols, d.d_in, blk.x, d.d_in, w.node_w1, d.d_in, 0, npre,
         node_cols);
  }
  soft_rows(w, d, blk, a, q, gb, dz, npre, dp);
  // Leaves: dW2 = (M h)^T G, dW1 = (M q [a > 0])^T X, db2 = M^T G, db1 the column sums.
  gemm(true, false, leaf_cols, d.d_out, rows, a, leaf_cols, blk.dy, d.d_out, beta, g.leaf_w2,
       d.d_out);
  gemm(true, false, leaf_cols, d.d_in, rows, q, leaf_cols, blk.x, d.d_in, beta, g.leaf_w1, d.d_in);
  gemm(true, false, leaves, d.d_out, rows, gb, leaves, blk.dy, d.d_out, beta, g.leaf_b2, d.d_out);
  column_sums(q, rows, leaf_cols, blk.first, g.leaf_b1);
  gemm(false, false, rows, d.d_in, leaf_cols, q, leaf_cols, w.leaf_w1, d.d_in, 0, dx, d.d_in);
  if (nodes == 0) return;
  if (nw == 1) {  // linear nodes: dW = dz^T X, db = column sums of dz, dx += dz W
    gemm(true, false, nodes, d.d_in, rows, dz, nodes, blk.x, d.d_in, beta, g.node_w1, d.d_in);
    column_sums(dz, rows, nodes, blk.first, g.node_b1);
    gemm(false, false, rows, d.d_in, nodes, dz, nodes, w.node_w1, d.d_in, 1, dx, d.d_in);
    return;
  }
  gemm(true, false, node_cols, d.d_in, rows, dp, node_cols, blk.x, d.d_in, beta, g.node_w1, d.d_in);
  column_sums(dp, rows, node_cols, blk.first, g.node_b1);
  column_sums(dz, rows, nodes, blk.first, g.node_b2);
  if (blk.first) zero(g.node_w2, node_cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t nk = 0; nk < node_cols; ++nk) {
      g.node_w2[nk] += dz[r * nodes + nk / nw] * npre[r * node_cols + nk];
    }
  }
  gemm(false, false, rows, d.d_in, node_cols, dp, node_cols, w.node_w1, d.d_in, 1, dx, d.d_in);
}

// --- hard ---------------------------------------------------------------------------------------

// Leaf l's gradients from its `count` rows (indices rows[]), and those rows of dx.
void hard_leaf(const float* x, const fff::Weights& w, const fff::Dims& d, const float* dy,
               float* dx, const fff::Gradients& g, std::int64_t l, const std::int64_t* rows,
               std::int64_t count) {
  thread_local std::vector<float> xs_buf, gs_buf, a_buf, q_buf, dxs_buf;
  const std::int64_t lw = d.leaf_width;
  float* xs = scratch(xs_buf, count * d.d_in);
  float* gs = scratch(gs_buf, count * d.d_out);
  float* a = scratch(a_buf, count * lw);
  float* q = scratch(q_buf, count * lw);
  float* dxs = scratch(dxs_buf, count * d.d_in);
  for (std::int64_t k = 0; k < count; ++k) {
    std::copy(x + rows[k] * d.d_in, x + (rows[k] + 1) * d.d_in, xs + k * d.d_in);
    std::copy(dy + rows[k] * d.d_out, dy + (rows[k] + 1) * d.d_out, gs + k * d.d_out);
  }
  const float* w1 = w.leaf_w1 + l * lw * d.d_in;
  const float* b1 = w.leaf_b1 + l * lw;
  gemm(false, true, count, lw, d.d_in, xs, d.d_in, w1, d.d_in, 0, a, lw);
  gemm(false, true, count, lw, d.d_out, gs, d.d_out, w.leaf_w2 + l * lw * d.d_out, d.d_out, 0, q,
       lw);
  for (std::int64_t k = 0; k < count; ++k) {
    for (std::int64_t j = 0; j < lw; ++j) {
      const float pre = a[k * lw + j] + b1[j];
      a[k * lw + j] = pre > 0 ? pre : 0;
      if (!(pre > 0)) q[k * lw + j] = 0;
    }
  }
  gemm(true, false, lw, d.d_out, count, a, lw, gs, d.d_out, 0, g.leaf_w2 + l * lw * d.d_out,
       d.d_out);
  gemm(true, false, lw, d.d_in, count, q, lw, xs, d.d_in, 0, g.leaf_w1 + l * lw * d.d_in, d.d_in);
  column_sums(q, count, lw, true, g.leaf_b1 + l * lw);
  column_sums(gs, count, d.d_out, true, g.leaf_b2 + l * d.d_out);
  gemm(false, false, count, d.d_in, lw, q, lw, w1, d.d_in, 0, dxs, d.d_in);
  for (std::int64_t k = 0; k < count; ++k) {
    std::copy(dxs + k * d.d_in, dxs + (k + 1) * d.d_in, dx + rows[k] * d.d_in);
  }
}

}  // namespace

void soft_fff_backward(const float* x, const fff::Weights& w, const fff::Dims& d, const float* p,
                       const float* dy, float* dx, const fff::Gradients& g, std::int64_t batch) {
  const std::int64_t node_rows = fff::saved_columns(d);
  if (d.node_width == 1) {  // node_w2, node_b2: one unused row
    zero(g.node_w2, 1);
    zero(g.node_b2, 1);
  }
  if (d.nodes() == 0) {  // depth 0: one unused node
    zero(g.node_w1, d.node_width * d.d_in);
    zero(g.node_b1, d.node_width);
    zero(g.node_w2, d.node_width);
    zero(g.node_b2, 1);
  }
  for (std::int64_t r0 = 0; r0 < batch; r0 += kSoftBackwardRows) {
    const SoftBlock blk{x + r0 * d.d_in, p + r0 * node_rows, dy + r0 * d.d_out,
                        std::min(kSoftBackwardRows, batch - r0), r0 == 0};
    soft_block(w, d, blk, dx + r0 * d.d_in, g);
  }
}

void fff_backward(const float* x, const fff::Weights& w, const fff::Dims& d,
                  const std::int64_t* leaf, const float* dy, float* dx, const fff::Gradients& g,
                  std::int64_t batch) {
  // Rows grouped by leaf: a counting sort.
  const std::int64_t leaves = d.leaves(), lw = d.leaf_width;
  std::vector<std::int64_t> start(static_cast<std::size_t>(leaves + 1), 0);
  for (std::int64_t b = 0; b < batch; ++b) ++start[leaf[b] + 1];
  for (std::int64_t l = 0; l < leaves; ++l) start[l + 1] += start[l];
  std::vector<std::int64_t> rows(static_cast<std::size_t>(batch));
  {
    std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
    for (std::int64_t b = 0; b < batch; ++b) rows[fill[leaf[b]]++] = b;
  }
  // One leaf per OpenMP work item, each with single-threaded SGEMMs: OpenBLAS's own threads would
  // spin between these small calls and take the cores from the OpenMP threads (as in pkm_fast).
  const int blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
#pragma omp parallel for schedule(dynamic, 1) if (batch >= 64 && omp_get_max_threads() > 1)
  for (std::int64_t l = 0; l < leaves; ++l) {
    const std::int64_t count = start[l + 1] - start[l];
    if (count > 0) {
      hard_leaf(x, w, d, dy, dx, g, l, rows.data() + start[l], count);
    } else {  // no row chose leaf l
      zero(g.leaf_w1 + l * lw * d.d_in, lw * d.d_in);
      zero(g.leaf_b1 + l * lw, lw);
      zero(g.leaf_w2 + l * lw * d.d_out, lw * d.d_out);
      zero(g.leaf_b2 + l * d.d_out, d.d_out);
    }
  }
  openblas_set_num_threads(blas_threads);
}

}  // namespace opbench::cpu::fast
