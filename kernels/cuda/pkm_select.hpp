#pragma once
// The order and the selection steps of the pkm family's CUDA top-k (pkm_cuda.cu, and the order of
// pkm_bruteforce_cuda.cu), kept here so that host-only tests run the same code.
//
// Order: larger score first, equal scores by the smaller index (reference/pkm.hpp), made total
// for any float: a NaN score sorts with -inf (then by index). Without it NaN compares false with
// everything, a NaN entry is never taken or is taken twice, and a list repeats an index.
#include <climits>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/host_device.hpp"

namespace opbench::cuda {

struct Scored {
  float score;
  long long index;
};

// The score an entry is ordered by: NaN as -inf.
OPBENCH_HD float pkm_order_key(float s) {
  return s != s ? -INFINITY : s;
}

// Whether (sa, ia) comes before (sb, ib).
template <class Index>
OPBENCH_HD bool pkm_before(float sa, Index ia, float sb, Index ib) {
  sa = pkm_order_key(sa);
  sb = pkm_order_key(sb);
  return sa > sb || (sa == sb && ia < ib);
}

OPBENCH_HD bool pkm_before(const Scored& a, const Scored& b) {
  return pkm_before(a.score, a.index, b.score, b.index);
}

// Bounds of the order over entries with indices in [0, LLONG_MAX): `pkm_first` comes before every
// entry, `pkm_none` (nothing: no entry left) after every entry.
OPBENCH_HD Scored pkm_first() {
  return {INFINITY, -1};
}
OPBENCH_HD Scored pkm_none() {
  return {-INFINITY, LLONG_MAX};
}

// The first entry after `last` in the order among row[j], j = lane, lane + lanes, ... < n (index
// j): one lane's share of a top-k by rounds of warp argmax. The row is only read: after a round
// takes entry e, the lane it came from looks for its best after e (every entry of that lane before
// e was taken in an earlier round), so nothing is marked and no sentinel score can collide with a
// real one.
OPBENCH_HD Scored pkm_lane_best_after(const float* row, int n, int lane, int lanes, Scored last) {
  Scored best = pkm_none();
  for (int j = lane; j < n; j += lanes) {
    const Scored c{row[j], j};
    if (pkm_before(last, c) && pkm_before(c, best)) best = c;
  }
  return best;
}

// --- the k x k combination -------------------------------------------------------------------
//
// Row x of the combination holds the sums ax + b[y] (product index row_base + ib[y]) with b sorted
// in the order. Along the row their order keys never increase (rounded addition is monotonic, and
// every sum with a NaN, or of +inf and -inf, has key -inf), but within a run of equal keys the
// order is by index, which need not be b's order: sums equal after rounding, and whole rows when ax
// is NaN or infinite. So a row's state is the start p of its current run and the largest b index
// taken from that run (-1: none yet); its head, the row's next entry in the order, is the run's
// smallest b index above that. A frontier of row heads then yields the k best in exact order.

// The end of the run of equal keys that starts at p.
OPBENCH_HD int pkm_run_end(float ax, const float* b, int k, int p) {
  const float key = pkm_order_key(ax + b[p]);
  int y = p + 1;
  while (y < k && pkm_order_key(ax + b[y]) == key) ++y;
  return y;
}

// The head of row (ax, row_base) in state (p, taken); pkm_none() once the row is exhausted.
OPBENCH_HD Scored pkm_row_head(float ax, long long row_base, const float* b, const int* ib, int k,
                               int p, int taken) {
  if (p >= k) return pkm_none();
  const int end = pkm_run_end(ax, b, k, p);
  int best = -1;
  for (int y = p; y < end; ++y) {
    if (ib[y] > taken && (best < 0 || ib[y] < ib[best])) best = y;
  }
  return {ax + b[best], row_base + ib[best]};
}

// The state of a row after its head, with b index `head_b`, was taken.
OPBENCH_HD void pkm_row_advance(float ax, const float* b, const int* ib, int k, int& p, int& taken,
                                int head_b) {
  if (p >= k) return;
  const int end = pkm_run_end(ax, b, k, p);
  for (int y = p; y < end; ++y) {
    if (ib[y] > head_b) {  // the run still has entries
      taken = head_b;
      return;
    }
  }
  p = end;
  taken = -1;
}

}  // namespace opbench::cuda
