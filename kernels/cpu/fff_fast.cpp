// cpu.fast hard-routed trees: fff and ultrafast_fff. See fff_fast.hpp for the plan.
#include "kernels/cpu/fff_fast.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/fff_simd.hpp"
#include "kernels/cpu/half_vec.hpp"

namespace opbench::cpu::fast {

namespace {

namespace simd = fast::simd;
using fffsimd::dots;
using fffsimd::value;
using fffsimd::weighted_sum;

// Rows per block: 128 rows of x at d_in = 768 are 384 KiB, which stays in L2 while the levels run
// over them, and enough rows for the top ~7 levels to share each node's weights.
constexpr std::int64_t kBlockRows = 128;
// Rows per leaf work item of fff: leaves with many rows are split so threads share the work.
constexpr std::int64_t kLeafItemRows = 64;

// Blocks are handed to OpenMP threads only when there are at least two: waking threads costs tens
// of microseconds, more than a 128-row block takes.
bool worth_threads(std::int64_t items) {
  return items >= 2 && omp_get_max_threads() > 1;
}

// A set of rows (`ids`, indices into x) kept sorted by the node each has reached: children of
// sorted nodes are sorted, so a stable split of each run into left-going then right-going rows
// keeps the order.
struct Router {
  std::vector<std::int64_t> ids;   // the rows, as indices into x
  std::vector<std::int64_t> node;  // node reached, per row
  std::vector<int> order, next;    // local rows sorted by node
  std::vector<const float*> xs;    // x rows of the current run
  std::vector<float> tmp;

  // Rows first ... first + count - 1 of x, all at `root`.
  void start(std::int64_t first, std::int64_t count, std::int64_t root) {
    ids.resize(static_cast<std::size_t>(count));
    for (std::int64_t r = 0; r < count; ++r) ids[r] = first + r;
    start_ids(root);
  }

  // The rows already in `ids`, all at `root`.
  void start_ids(std::int64_t root) {
    const std::size_t rows = ids.size();
    node.assign(rows, root);
    order.resize(rows);
    next.resize(rows);
    for (std::size_t r = 0; r < rows; ++r) order[r] = static_cast<int>(r);
    xs.resize(rows);
    tmp.resize(rows);
  }

  // Calls fn(node, first, count) for each run of rows (order[first ... first + count - 1]) that
  // share a node; fn finds their x rows in xs[0 ... count - 1].
  template <class Fn>
  void for_each_run(const float* x, std::int64_t d_in, Fn fn) {
    const auto rows = static_cast<std::int64_t>(order.size());
    for (std::int64_t i = 0; i < rows;) {
      const std::int64_t n = node[order[i]];
      std::int64_t j = i;
      while (j < rows && node[order[j]] == n) {
        xs[j - i] = x + ids[order[j]] * d_in;
        ++j;
      }
      fn(n, i, j - i);
      i = j;
    }
  }

  // Moves every row to its child (right when go_right(local row)) and re-sorts the rows by node.
  template <class Pred>
  void descend(Pred go_right) {
    const auto rows = static_cast<std::int64_t>(order.size());
    for (std::int64_t i = 0; i < rows;) {
      const std::int64_t n = node[order[i]];
      std::int64_t j = i;
      while (j < rows && node[order[j]] == n) ++j;
      std::int64_t out = i;
      for (std::int64_t k = i; k < j; ++k) {
        if (!go_right(order[k])) next[out++] = order[k];
      }
      for (std::int64_t k = i; k < j; ++k) {
        if (go_right(order[k])) next[out++] = order[k];
      }
      i = j;
    }
    for (std::int64_t r = 0; r < rows; ++r) node[r] = 2 * node[r] + 1 + (go_right(r) ? 1 : 0);
    order.swap(next);
  }
};

// --- ultrafast_fff ------------------------------------------------------------------------------
//
// Two phases keep both x and the weights in cache. Phase A runs blocks of kBlockRows rows through
// the top kTopLevels levels (63 neurons, whose weights stay in L2 for every block; each is loaded
// once per block for all the block's rows that reach it). Phase B buckets the rows by the subtree
// they entered and runs each subtree's rows through its remaining levels, so that every deeper
// neuron's weights are loaded once per call for all the rows that reach it, however many blocks
// they came from (with blocks alone, a batch of 16384 rows would load ~25x more weight bytes).
// The output of a row, sum_l GeLU(lambda_l) w_out[node_l], is summed with the row held in
// registers once its path is complete, rows in node order so that neighbours share w_out rows,
// and streamed out. A batch of one row is the vectorized descent.
constexpr std::int64_t kTopLevels = 6;

template <class W>
struct UltraArgs {
  const float* x;
  const W *w_in, *w_out;
  float* y;
  std::int64_t* path;
  float* lambda;  // [batch, levels]
  std::int64_t d_in, d_out, levels;
  bool stream_y;  // y is the caller's float32 output (not scratch that is read back at once)
};

// Runs the router's rows through levels first ... last - 1: lambdas and paths.
template <class W>
void ultrafast_levels(const UltraArgs<W>& a, Router& rt, std::int64_t first, std::int64_t last) {
  const std::int64_t L = a.levels;
  for (std::int64_t level = first; level < last; ++level) {
    rt.for_each_run(a.x, a.d_in, [&](std::int64_t n, std::int64_t i, std::int64_t count) {
      // The next run's node is this node's right neighbour or further: start loading it now.
      if (i + count < static_cast<std::int64_t>(rt.order.size())) {
        fffsimd::prefetch(a.w_in + rt.node[rt.order[i + count]] * a.d_in, a.d_in);
      }
      dots(rt.xs.data(), count, a.w_in + n * a.d_in, a.d_in, rt.tmp.data());
      for (std::int64_t k = 0; k < count; ++k)
        a.lambda[rt.ids[rt.order[i + k]] * L + level] = rt.tmp[k];
    });
    for (std::size_t r = 0; r < rt.ids.size(); ++r) a.path[rt.ids[r] * L + level] = rt.node[r];
    if (level + 1 < L) rt.descend([&](int r) { return a.lambda[rt.ids[r] * L + level] > 0; });
  }
}

// y of the router's rows, whose lambdas and paths are complete.
template <class W>
void ultrafast_outputs(const UltraArgs<W>& a, const Router& rt) {
  const std::int64_t L = a.levels;
  // g padded to whole vectors, so the GeLU of a row's L values takes L / kW vector steps.
  const std::int64_t padded = (L + simd::kW - 1) / simd::kW * simd::kW;
  std::vector<float> g(static_cast<std::size_t>(padded), 0.0f);
  std::vector<const W*> ws(static_cast<std::size_t>(L));
  const auto rows = static_cast<std::int64_t>(rt.order.size());
  for (std::int64_t k = 0; k < rows; ++k) {  // rows in node order: neighbours share w_out rows
    const std::int64_t b = rt.ids[rt.order[k]];
    if (k + 1 < rows) {  // the next row's deepest neurons are the ones likely not yet in cache
      const std::int64_t next = rt.ids[rt.order[k + 1]];
      for (std::int64_t l = std::max<std::int64_t>(L - 3, 0); l < L; ++l) {
        fffsimd::prefetch(a.w_out + a.path[next * L + l] * a.d_out, a.d_out);
      }
    }
    std::copy(a.lambda + b * L, a.lambda + (b + 1) * L, g.begin());
    fffsimd::gelu_inplace(g.data(), padded);
    for (std::int64_t l = 0; l < L; ++l) ws[l] = a.w_out + a.path[b * L + l] * a.d_out;
    weighted_sum(a.y + b * a.d_out, g.data(), ws.data(), L, a.d_out, nullptr, a.stream_y);
  }
  simd::stream_fence();
}

// --- fff ----------------------------------------------------------------------------------------

template <class W>
void fff_route_block(const float* x, const fff::WeightsOf<W>& w, const fff::Dims& d,
                     std::int64_t* leaf, std::int64_t rows) {
  Router rt;
  rt.start(0, rows, 0);
  std::vector<float> logit(static_cast<std::size_t>(rows));
  for (std::int64_t level = 0; level < d.depth; ++level) {
    rt.for_each_run(x, d.d_in, [&](std::int64_t n, std::int64_t first, std::int64_t count) {
      if (d.node_width == 1) {  // a linear node: logit = b1 + w1 . x
        dots(rt.xs.data(), count, w.node_w1 + n * d.d_in, d.d_in, rt.tmp.data());
        for (std::int64_t k = 0; k < count; ++k)
          logit[rt.order[first + k]] = value(w.node_b1[n]) + rt.tmp[k];
        return;
      }
      for (std::int64_t k = 0; k < count; ++k) logit[rt.order[first + k]] = value(w.node_b2[n]);
      for (std::int64_t h = 0; h < d.node_width; ++h) {
        const std::int64_t nh = n * d.node_width + h;
        dots(rt.xs.data(), count, w.node_w1 + nh * d.d_in, d.d_in, rt.tmp.data());
        for (std::int64_t k = 0; k < count; ++k) {
          logit[rt.order[first + k]] +=
              value(w.node_w2[nh]) * std::max(value(w.node_b1[nh]) + rt.tmp[k], 0.0f);
        }
      }
    });
    rt.descend([&](int r) { return logit[r] >= 0; });
  }
  for (std::int64_t r = 0; r < rows; ++r) leaf[r] = rt.node[r] - d.nodes();
}

// One leaf over `count` rows (their indices in rows[]): H = ReLU(x W1^T + b1), y = H W2 + b2,
// the output skipping neurons that ReLU switched off.
template <class W>
void fff_leaf_item(const float* x, const fff::WeightsOf<W>& w, const fff::Dims& d, float* y,
                   std::int64_t leaf, const std::int64_t* rows, std::int64_t count) {
  const std::int64_t lw = d.leaf_width;
  std::vector<const float*> xs(static_cast<std::size_t>(count));
  for (std::int64_t k = 0; k < count; ++k) xs[k] = x + rows[k] * d.d_in;
  std::vector<float> h(static_cast<std::size_t>(count * lw)), tmp(static_cast<std::size_t>(count));
  for (std::int64_t j = 0; j < lw; ++j) {
    const std::int64_t lj = leaf * lw + j;
    dots(xs.data(), count, w.leaf_w1 + lj * d.d_in, d.d_in, tmp.data());
    for (std::int64_t k = 0; k < count; ++k) {
      h[k * lw + j] = std::max(value(w.leaf_b1[lj]) + tmp[k], 0.0f);
    }
  }
  std::vector<float> c(static_cast<std::size_t>(lw));
  std::vector<const W*> ws(static_cast<std::size_t>(lw));
  for (std::int64_t k = 0; k < count; ++k) {
    std::int64_t nz = 0;
    for (std::int64_t j = 0; j < lw; ++j) {
      if (h[k * lw + j] != 0) {
        c[nz] = h[k * lw + j];
        ws[nz++] = w.leaf_w2 + (leaf * lw + j) * d.d_out;
      }
    }
    weighted_sum(y + rows[k] * d.d_out, c.data(), ws.data(), nz, d.d_out,
                 w.leaf_b2 + leaf * d.d_out);
  }
}

// Runs fn(xf, yf) on x[nx] widened into float32 and rounds its float32 output yf[ny] once into
// y (per-thread buffers, grown as needed, so that a timed call does not fault in fresh pages).
template <class T, class Fn>
void with_float_rows(const T* x, std::int64_t nx, T* y, std::int64_t ny, Fn fn) {
  thread_local std::vector<float> xf, yf;
  if (static_cast<std::int64_t>(xf.size()) < nx) xf.resize(static_cast<std::size_t>(nx));
  if (static_cast<std::int64_t>(yf.size()) < ny) yf.resize(static_cast<std::size_t>(ny));
  half_vec::widen_threads(x, xf.data(), nx);
  fn(xf.data(), yf.data());
  half_vec::narrow_threads(yf.data(), y, ny);
}

template <class W>
void ultrafast_fff_t(const float* x, const W* w_in, const W* w_out, float* y, std::int64_t* path,
                     std::int64_t batch, std::int64_t d_in, std::int64_t d_out, std::int64_t depth,
                     bool stream_y) {
  const std::int64_t levels = depth + 1, top = std::min(levels, kTopLevels);
  std::vector<float> lambda(static_cast<std::size_t>(batch * levels));
  const UltraArgs<W> a{x, w_in, w_out, y, path, lambda.data(), d_in, d_out, levels, stream_y};
  // Phase A: the top levels, block by block (the whole tree when it is no deeper).
  const std::int64_t blocks = (batch + kBlockRows - 1) / kBlockRows;
#pragma omp parallel for schedule(dynamic, 1) if (worth_threads(blocks))
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    Router rt;
    rt.start(blk * kBlockRows, std::min(kBlockRows, batch - blk * kBlockRows), 0);
    ultrafast_levels(a, rt, 0, top);
    if (top == levels) ultrafast_outputs(a, rt);
  }
  if (top == levels) return;
  // Phase B: the rows bucketed (a counting sort) by the node they reach at level `top`.
  const std::int64_t first_node = (std::int64_t{1} << top) - 1, subtrees = first_node + 1;
  auto subtree_of = [&](std::int64_t b) {
    const std::int64_t n = path[b * levels + top - 1];
    return 2 * n + 1 + (lambda[b * levels + top - 1] > 0 ? 1 : 0) - first_node;
  };
  std::vector<std::int64_t> start(static_cast<std::size_t>(subtrees + 1), 0);
  for (std::int64_t b = 0; b < batch; ++b) ++start[subtree_of(b) + 1];
  for (std::int64_t t = 0; t < subtrees; ++t) start[t + 1] += start[t];
  std::vector<std::int64_t> rows(static_cast<std::size_t>(batch));
  {
    std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
    for (std::int64_t b = 0; b < batch; ++b) rows[fill[subtree_of(b)]++] = b;
  }
#pragma omp parallel for schedule(dynamic, 1) if (worth_threads(blocks))
  for (std::int64_t t = 0; t < subtrees; ++t) {
    if (start[t] == start[t + 1]) continue;
    Router rt;
    rt.ids.assign(rows.begin() + start[t], rows.begin() + start[t + 1]);
    rt.start_ids(first_node + t);
    ultrafast_levels(a, rt, top, levels);
    ultrafast_outputs(a, rt);
  }
}

template <class W>
void fff_t(const float* x, const fff::WeightsOf<W>& w, const fff::Dims& d, float* y,
           std::int64_t* leaf, std::int64_t batch) {
  // 1. Route every row, block by block.
  const std::int64_t blocks = (batch + kBlockRows - 1) / kBlockRows;
#pragma omp parallel for schedule(dynamic, 1) if (worth_threads(blocks))
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t r0 = blk * kBlockRows;
    fff_route_block(x + r0 * d.d_in, w, d, leaf + r0, std::min(kBlockRows, batch - r0));
  }
  // 2. Group the rows by leaf (a counting sort), in work items of at most kLeafItemRows rows.
  const std::int64_t leaves = d.leaves();
  std::vector<std::int64_t> start(static_cast<std::size_t>(leaves + 1), 0);
  for (std::int64_t b = 0; b < batch; ++b) ++start[leaf[b] + 1];
  for (std::int64_t l = 0; l < leaves; ++l) start[l + 1] += start[l];
  std::vector<std::int64_t> rows(static_cast<std::size_t>(batch));
  {
    std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
    for (std::int64_t b = 0; b < batch; ++b) rows[fill[leaf[b]]++] = b;
  }
  struct Item {
    std::int64_t leaf, first, count;
  };
  std::vector<Item> items;
  for (std::int64_t l = 0; l < leaves; ++l) {
    for (std::int64_t i = start[l]; i < start[l + 1]; i += kLeafItemRows) {
      items.push_back({l, i, std::min(kLeafItemRows, start[l + 1] - i)});
    }
  }
  // 3. One small GEMM per occupied leaf (per item).
  const auto n_items = static_cast<std::int64_t>(items.size());
#pragma omp parallel for schedule(dynamic, 1) if (worth_threads(n_items) && batch >= kBlockRows)
  for (std::int64_t i = 0; i < n_items; ++i) {
    fff_leaf_item(x, w, d, y, items[i].leaf, rows.data() + items[i].first, items[i].count);
  }
}

}  // namespace

void ultrafast_fff(const float* x, const float* w_in, const float* w_out, float* y,
                   std::int64_t* path, std::int64_t batch, std::int64_t d_in, std::int64_t d_out,
                   std::int64_t depth) {
  ultrafast_fff_t(x, w_in, w_out, y, path, batch, d_in, d_out, depth, true);
}

void fff(const float* x, const fff::Weights& w, const fff::Dims& d, float* y, std::int64_t* leaf,
         std::int64_t batch) {
  fff_t(x, w, d, y, leaf, batch);
}

// 16-bit storage: x widened to float32 (every row is read whole), the weights read in their
// storage type and widened as they are loaded (a row reads only its path's nodes and its leaf,
// so converting them all up front would cost a batch of one row more than its work), y summed in
// float32 and rounded once.
#define OPBENCH_FFF_FAST_16(T)                                                                   \
  void ultrafast_fff(const T* x, const T* w_in, const T* w_out, T* y, std::int64_t* path,        \
                     std::int64_t batch, std::int64_t d_in, std::int64_t d_out,                  \
                     std::int64_t depth) {                                                       \
    with_float_rows(x, batch* d_in, y, batch* d_out, [&](const float* xf, float* yf) {           \
      ultrafast_fff_t(xf, w_in, w_out, yf, path, batch, d_in, d_out, depth, false);              \
    });                                                                                          \
  }                                                                                              \
  void fff(const T* x, const fff::WeightsOf<T>& w, const fff::Dims& d, T* y, std::int64_t* leaf, \
           std::int64_t batch) {                                                                 \
    with_float_rows(x, batch* d.d_in, y, batch* d.d_out,                                         \
                    [&](const float* xf, float* yf) { fff_t(xf, w, d, yf, leaf, batch); });      \
  }
OPBENCH_FFF_FAST_16(bf16_t)
OPBENCH_FFF_FAST_16(f16_t)
#undef OPBENCH_FFF_FAST_16

}  // namespace opbench::cpu::fast
