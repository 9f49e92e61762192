#pragma once
// Top-k selection helpers of cpu.fast (pkm family). Every list is sorted in the total order of
// reference/pkm.hpp (ref::pkm_before): larger score first, equal scores by the smaller index, a NaN
// score ranked as -inf (then by index). Lists hold the scores as computed (NaN stays NaN); only
// comparisons go through the order key.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

namespace opbench::cpu::fast {

// The score an entry is ordered by: NaN as -inf.
inline float order_key(float s) {
  return s != s ? -std::numeric_limits<float>::infinity() : s;
}

// A sorted list of at most `cap` (score, index) pairs, kept in caller-provided arrays. Insertion
// shifts the tail: cheap because, after the first `cap` elements, only an element better than the
// current last one is inserted, and on a scan those get rare quickly (about cap * ln(n / cap)).
template <class Index>
class TopKList {
 public:
  TopKList(float* scores, Index* indices, std::int64_t cap) : s_(scores), i_(indices), cap_(cap) {}

  bool full() const { return size_ == cap_; }
  // Resume a list whose first `size` entries are already in the arrays (sorted).
  void restore(std::int64_t size) { size_ = size; }
  std::int64_t size() const { return size_; }
  float last_score() const { return s_[size_ - 1]; }
  // The order key an element must beat (or equal with a smaller index) to enter a full list: never
  // NaN, so `s > last_key()` is false for a NaN s, as order_key(s) > last_key() is.
  float last_key() const { return order_key(s_[size_ - 1]); }
  Index last_index() const { return i_[size_ - 1]; }

  static bool before(float a, Index ia, float b, Index ib) {
    if (a > b) return true;
    if (a < b) return false;
    if (a == b) return ia < ib;
    a = order_key(a);  // a or b is NaN: ranked as -inf
    b = order_key(b);
    return a > b || (a == b && ia < ib);
  }

  void push(float score, Index index) {
    if (full()) {
      if (!before(score, index, s_[size_ - 1], i_[size_ - 1])) return;
      --size_;  // drop the last
    }
    std::int64_t pos = size_;
    while (pos > 0 && before(score, index, s_[pos - 1], i_[pos - 1])) {
      s_[pos] = s_[pos - 1];
      i_[pos] = i_[pos - 1];
      --pos;
    }
    s_[pos] = score;
    i_[pos] = index;
    ++size_;
  }

 private:
  float* s_;
  Index* i_;
  std::int64_t cap_;
  std::int64_t size_ = 0;
};

// Above this many elements, the O(m^2) counting steps of select_topk give way to sorting.
constexpr std::int64_t kRankLimit = 128;

struct SelectScratch {
  std::vector<float> maxima, values;
  std::vector<std::int32_t> index;
  SelectScratch(std::int64_t n, std::int64_t k)
      : maxima(static_cast<std::size_t>(std::min(n, 2 * k))),
        values(static_cast<std::size_t>(n)),
        index(static_cast<std::size_t>(n)) {}
};

// Partial selection: the k best of s[0..n), in three passes that are mostly branch-free (the
// branchy insertion into a sorted list mispredicts on every entry and cost 3x more):
//  1. s is cut into at least k chunks (up to 2k) and the maximum order key of each taken.
//  2. The k-th largest of those maxima is a lower bound of the k-th best key (k chunks each hold
//     an element at least that large); only the elements at or above it are kept: about 40 of
//     512 normal scores with k = 32. A NaN is kept only when the bound is -inf.
//  3. Each candidate's rank is the number of candidates before it in the list order, counted in
//     a vectorizable loop over their keys; the first k ranks are the sorted result.
template <class Index>
void select_topk(const float* s, std::int64_t n, std::int64_t k, float* out_scores,
                 Index* out_indices, SelectScratch& scratch) {
  const std::int64_t want = std::min(n, 2 * k);
  const std::int64_t size = (n + want - 1) / want;
  // chunks >= k: with want = n, chunks = n >= k; with want = 2k < n, size < n / 2k + 1, so
  // chunks >= n / size > 2kn / (n + 2k) > k.
  const std::int64_t chunks = (n + size - 1) / size;
  float* maxima = scratch.maxima.data();
  constexpr float kMinusInf = -std::numeric_limits<float>::infinity();
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t lo = c * size, hi = std::min(n, lo + size);
    // std::max(m, x) is m < x ? x : m: a NaN x leaves m, so from -inf m is the largest key.
    float m = kMinusInf;
    for (std::int64_t j = lo; j < hi; ++j) m = std::max(m, s[j]);
    maxima[c] = m;
  }
  float bound;
  if (chunks <= kRankLimit) {
    bound = -std::numeric_limits<float>::infinity();
    for (std::int64_t i = 0; i < chunks; ++i) {
      std::int32_t at_least = 0;
      for (std::int64_t j = 0; j < chunks; ++j) at_least += maxima[j] >= maxima[i] ? 1 : 0;
      if (at_least >= k) bound = std::max(bound, maxima[i]);
    }
  } else {
    std::nth_element(maxima, maxima + (k - 1), maxima + chunks, std::greater<float>());
    bound = maxima[k - 1];
  }
  float* cv = scratch.values.data();
  std::int32_t* ci = scratch.index.data();
  std::int64_t count = 0;
  if (bound > kMinusInf) {
    for (std::int64_t j = 0; j < n; ++j) {
      if (s[j] >= bound) {  // false for NaN
        cv[count] = s[j];
        ci[count++] = static_cast<std::int32_t>(j);
      }
    }
  } else {  // every entry, NaN (key -inf) included
    for (std::int64_t j = 0; j < n; ++j) {
      cv[count] = order_key(s[j]);
      ci[count++] = static_cast<std::int32_t>(j);
    }
  }
  if (count <= kRankLimit) {
    for (std::int64_t i = 0; i < count; ++i) {
      const float v = cv[i];
      const std::int32_t x = ci[i];
      std::int32_t rank = 0;
      for (std::int64_t j = 0; j < count; ++j) {
        rank += (cv[j] > v) | ((cv[j] == v) & (ci[j] < x));
      }
      if (rank < k) {
        out_scores[rank] = s[x];  // the score itself: NaN, not its key
        out_indices[rank] = static_cast<Index>(x);
      }
    }
    return;
  }
  // Many candidates (scores with many exact ties): sort them.
  TopKList<Index> list(out_scores, out_indices, k);
  for (std::int64_t j = 0; j < count; ++j) list.push(s[ci[j]], static_cast<Index>(ci[j]));
}

// The top-k of the k x k candidate sums a[x] + b[y] (product index ia[x] * n + ib[y]), given both
// sides sorted in the order. Row x is visited while a[x] + b[0] can still enter the list, and
// within a row y stops at the first sum below the k-th best: the order key of a sum never
// increases along a row or down the first column (rounded addition is monotonic, and a sum with a
// NaN, or of +inf and -inf, has key -inf), so the pairs skipped can never enter. Equal sums are
// all pushed: among them the list orders by index. `<` with a NaN on either side is false, which
// only forgoes pruning (a NaN last score has key -inf, which no key is below; a NaN sum is pushed
// and refused by the order). On typical data this scores O(k log k) pairs instead of k^2.
inline void combine_sorted(const float* a, const std::int32_t* ia, const float* b,
                           const std::int32_t* ib, std::int64_t k, std::int64_t n,
                           float* out_scores, std::int64_t* out_indices) {
  TopKList<std::int64_t> list(out_scores, out_indices, k);
  for (std::int64_t x = 0; x < k; ++x) {
    if (list.full() && a[x] + b[0] < list.last_score()) break;
    const std::int64_t row = static_cast<std::int64_t>(ia[x]) * n;
    for (std::int64_t y = 0; y < k; ++y) {
      const float s = a[x] + b[y];
      if (list.full() && s < list.last_score()) break;
      list.push(s, row + ib[y]);
    }
  }
}

}  // namespace opbench::cpu::fast
