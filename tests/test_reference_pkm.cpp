// Tests of the float64 product-key memory references (reference/pkm.hpp).
//
// Expectations are hand-computed values or an independent computation written here (every product
// score by its own loop, sorted with std::sort), never the reference against itself. Outputs
// start poisoned (NaN scores, -7 indices) so that an unwritten element fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/pkm.hpp"

namespace {

using Vec = std::vector<double>;
using Idx = std::vector<std::int64_t>;
namespace ref = opbench::ref;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Vec seeded(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  Vec v(n);
  for (auto& e : v) e = -2.0 + 4.0 * static_cast<double>(g() >> 11) * 0x1.0p-53;
  return v;
}

struct Result {
  Vec scores;
  Idx indices;
};

using SearchFn = void (*)(const double*, const double*, const double*, double*, std::int64_t*,
                          const ref::PkmShape&);

Result search(SearchFn fn, const Vec& q, const Vec& k1, const Vec& k2, const ref::PkmShape& s) {
  Result r{Vec(static_cast<std::size_t>(s.tokens * s.heads * s.k), kNaN),
           Idx(static_cast<std::size_t>(s.tokens * s.heads * s.k), -7)};
  fn(q.data(), k1.data(), k2.data(), r.scores.data(), r.indices.data(), s);
  return r;
}

// The top-k of every (token, head), computed independently: each product score as q1.c + q2.c',
// all of them sorted with std::sort by (score desc, index asc).
Result independent_topk(const Vec& q, const Vec& k1, const Vec& k2, const ref::PkmShape& s) {
  Result r;
  const std::int64_t half = s.dk / 2;
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    for (std::int64_t h = 0; h < s.heads; ++h) {
      std::vector<std::pair<double, std::int64_t>> all;
      for (std::int64_t i = 0; i < s.n; ++i) {
        for (std::int64_t j = 0; j < s.n; ++j) {
          double a = 0, b = 0;
          for (std::int64_t e = 0; e < half; ++e) {
            a += q[(t * s.heads + h) * s.dk + e] * k1[(h * s.n + i) * half + e];
            b += q[(t * s.heads + h) * s.dk + half + e] * k2[(h * s.n + j) * half + e];
          }
          all.push_back({a + b, i * s.n + j});
        }
      }
      std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) {
        return x.first > y.first || (x.first == y.first && x.second < y.second);
      });
      for (std::int64_t m = 0; m < s.k; ++m) {
        r.scores.push_back(all[m].first);
        r.indices.push_back(all[m].second);
      }
    }
  }
  return r;
}

void expect_same(const Result& got, const Result& want, const char* what) {
  ASSERT_EQ(got.indices.size(), want.indices.size());
  for (std::size_t m = 0; m < want.indices.size(); ++m) {
    EXPECT_EQ(got.indices[m], want.indices[m]) << what << " position " << m;
    EXPECT_NEAR(got.scores[m], want.scores[m], 1e-12) << what << " position " << m;
  }
}

// q = [1, 2]; sub-keys c = {3, -1}, c' = {0.5, 4}: product scores
// (0,0) 3 + 1 = 4, (0,1) 3 + 8 = 11, (1,0) -1 + 1 = 0, (1,1) -1 + 8 = 7.
TEST(PkmReference, HandComputedTopTwo) {
  const ref::PkmShape s{1, 1, 2, 2, 2};
  const Vec q = {1, 2}, k1 = {3, -1}, k2 = {0.5, 4};
  for (SearchFn fn : {&ref::bruteforce_topk, &ref::pkm_topk}) {
    Result r = search(fn, q, k1, k2, s);
    EXPECT_EQ(r.indices, (Idx{1, 3}));
    EXPECT_EQ(r.scores, (Vec{11, 7}));
  }
  EXPECT_EQ(ref::product_key_score(q.data(), k1.data(), k2.data(), s, 0, 0, 2), 0.0);
  EXPECT_EQ(ref::product_key_magnitude(q.data(), k1.data(), k2.data(), s, 0, 0, 2), 2.0);
}

// The paper's exactness claim, exhaustively at small N: for every k from 1 to sqrt(N), several
// tokens and two heads, the product-key search returns exactly the brute-force top-k over the
// Cartesian product, and both equal the independent computation.
TEST(PkmReference, ProductKeysEqualBruteForceForEveryK) {
  for (std::int64_t k = 1; k <= 8; ++k) {
    const ref::PkmShape s{5, 2, 8, 6, k};
    const Vec q = seeded(5 * 2 * 6, 11), k1 = seeded(2 * 8 * 3, 12), k2 = seeded(2 * 8 * 3, 13);
    const Result want = independent_topk(q, k1, k2, s);
    expect_same(search(&ref::bruteforce_topk, q, k1, k2, s), want, "bruteforce");
    expect_same(search(&ref::pkm_topk, q, k1, k2, s), want, "pkm");
  }
}

// One head, one token, k = sqrt(N): every sub-key of each half is a candidate.
TEST(PkmReference, SingleHeadAndKEqualsSqrtN) {
  const ref::PkmShape s{1, 1, 16, 4, 16};
  const Vec q = seeded(4, 21), k1 = seeded(16 * 2, 22), k2 = seeded(16 * 2, 23);
  expect_same(search(&ref::pkm_topk, q, k1, k2, s), independent_topk(q, k1, k2, s), "pkm");
}

// Equal sub-keys make equal product scores: they come out by the smaller index.
TEST(PkmReference, TiesGoToTheSmallerIndex) {
  const ref::PkmShape s{1, 1, 3, 2, 3};
  const Vec q = {1, 1}, k1 = {2, 2, -5}, k2 = {1, 1, 1};  // (0,*) and (1,*) all score 3
  for (SearchFn fn : {&ref::bruteforce_topk, &ref::pkm_topk}) {
    Result r = search(fn, q, k1, k2, s);
    EXPECT_EQ(r.indices, (Idx{0, 1, 2}));
    EXPECT_EQ(r.scores, (Vec{3, 3, 3}));
  }
}

// --- the total order with NaN and infinities ---------------------------------------------------

constexpr double kInf = std::numeric_limits<double>::infinity();

// The order written out here, independently of the reference: NaN ranks with -inf, then larger
// score first, then the smaller index.
bool total_before(double a, std::int64_t ia, double b, std::int64_t ib) {
  const double ka = std::isnan(a) ? -kInf : a, kb = std::isnan(b) ? -kInf : b;
  if (ka != kb) return ka > kb;
  return ia < ib;
}

TEST(PkmReferenceOrder, NaNSortsWithMinusInfinityThenByIndex) {
  EXPECT_TRUE(ref::pkm_before(kInf, 9, 5.0, 0));
  EXPECT_TRUE(ref::pkm_before(5.0, 9, -kInf, 0));
  EXPECT_TRUE(ref::pkm_before(-1e300, 9, kNaN, 0));  // any number before NaN
  EXPECT_FALSE(ref::pkm_before(kNaN, 0, -1e300, 9));
  EXPECT_TRUE(ref::pkm_before(kNaN, 2, kNaN, 3));  // NaN and NaN: by index
  EXPECT_FALSE(ref::pkm_before(kNaN, 3, kNaN, 2));
  EXPECT_FALSE(ref::pkm_before(kNaN, 3, kNaN, 3));  // irreflexive
  EXPECT_TRUE(ref::pkm_before(-kInf, 2, kNaN, 3));  // NaN ranks with -inf
  EXPECT_TRUE(ref::pkm_before(kNaN, 2, -kInf, 3));
  EXPECT_TRUE(ref::pkm_before(2.0, 1, 2.0, 4));
  EXPECT_FALSE(ref::pkm_before(2.0, 4, 2.0, 1));
  EXPECT_EQ(ref::pkm_order_key(kNaN), -kInf);
  EXPECT_EQ(ref::pkm_order_key(-kNaN), -kInf);
  EXPECT_EQ(ref::pkm_order_key(kInf), kInf);
  EXPECT_EQ(ref::pkm_order_key(-0.5), -0.5);
}

// No index twice, every index in range.
void expect_distinct(const Result& r, const ref::PkmShape& s, const char* what) {
  for (std::int64_t row = 0; row < s.tokens * s.heads; ++row) {
    std::vector<std::int64_t> ids(r.indices.begin() + row * s.k,
                                  r.indices.begin() + (row + 1) * s.k);
    for (std::int64_t id : ids) {
      EXPECT_GE(id, 0) << what << " row " << row;
      EXPECT_LT(id, s.n * s.n) << what << " row " << row;
    }
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end())
        << what << " row " << row << " repeats an index";
  }
}

// Scores equal as values: NaN where the other is NaN, else ==.
void expect_same_scores(const Vec& got, const Vec& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t m = 0; m < want.size(); ++m) {
    if (std::isnan(want[m])) {
      EXPECT_TRUE(std::isnan(got[m])) << what << " position " << m << ": " << got[m];
    } else {
      EXPECT_EQ(got[m], want[m]) << what << " position " << m;
    }
  }
}

// q = [1, 1], k1 = [NaN, 2, +inf], k2 = [1, NaN, -inf]; score (i, j) = k1_i + k2_j, index 3i + j:
//   (0, *) NaN NaN NaN        indices 0 1 2
//   (1, *) 3   NaN -inf       indices 3 4 5
//   (2, *) inf NaN inf-inf=NaN indices 6 7 8
// In order: 6 (inf), 3 (3), then the -inf keys by index: 0 (NaN), 1, 2, 4, 5 (-inf), 7, 8.
TEST(PkmReferenceOrder, HandComputedTopKWithNaNAndInfinities) {
  const Vec q = {1, 1}, k1 = {kNaN, 2, kInf}, k2 = {1, kNaN, -kInf};
  const Idx order = {6, 3, 0, 1, 2, 4, 5, 7, 8};
  const Vec scores = {kInf, 3, kNaN, kNaN, kNaN, kNaN, -kInf, kNaN, kNaN};
  for (std::int64_t k = 1; k <= 3; ++k) {
    const ref::PkmShape s{1, 1, 3, 2, k};
    const Idx want(order.begin(), order.begin() + k);
    const Vec want_scores(scores.begin(), scores.begin() + k);
    // k = 3 = n: every product key is a candidate, so the search is the brute force. With k = 2
    // the sides keep sub-keys {2, 1} (inf, 2) and {0, 1} (1, NaN): candidates 6, 7, 3, 4.
    for (SearchFn fn : {&ref::bruteforce_topk, &ref::pkm_topk}) {
      const Result r = search(fn, q, k1, k2, s);
      EXPECT_EQ(r.indices, want) << "k=" << k;
      expect_same_scores(r.scores, want_scores, "hand");
    }
  }
}

// Where the product-key search and the brute force part: q = [inf, 1], k1 = [1, 2, -1] (first
// halves inf, inf, -inf), k2 = [0.5, 3, 2], k = 2. Every product of rows 0 and 1 scores +inf, so
// the brute force takes indices 0 and 1; the search keeps sub-keys {0, 1} and {1, 2} (3, 2) and
// its +inf candidates are 1, 2, 4, 5: it answers 1, 2. Same order keys, other indices (pkm.hpp).
TEST(PkmReferenceOrder, InfiniteRowsTieBetweenSearchAndBruteForce) {
  const ref::PkmShape s{1, 1, 3, 2, 2};
  const Vec q = {kInf, 1}, k1 = {1, 2, -1}, k2 = {0.5, 3, 2};
  const Result brute = search(&ref::bruteforce_topk, q, k1, k2, s);
  const Result pkm = search(&ref::pkm_topk, q, k1, k2, s);
  EXPECT_EQ(brute.indices, (Idx{0, 1}));
  EXPECT_EQ(pkm.indices, (Idx{1, 2}));
  EXPECT_EQ(brute.scores, (Vec{kInf, kInf}));
  EXPECT_EQ(pkm.scores, (Vec{kInf, kInf}));
}

// Seeded inputs with NaN and infinities planted in queries and sub-key rows (whole halves NaN,
// infinite halves of both signs, NaN and infinite sub-key rows, rows of +inf + -inf = NaN). The
// brute force equals a plain sort of every score in the order written above; the search equals the
// same computation over its k x k candidates; both have the same order key at every position; no
// list repeats an index; a second run gives the same bits.
TEST(PkmReferenceOrder, SeededSpecialValuesEqualAPlainSort) {
  for (std::int64_t k = 1; k <= 8; ++k) {
    const ref::PkmShape s{6, 2, 8, 6, k};
    const std::int64_t half = 3;
    Vec q = seeded(6 * 2 * 6, 71), k1 = seeded(2 * 8 * 3, 72), k2 = seeded(2 * 8 * 3, 73);
    q[(0 * 2 + 0) * 6 + 1] = kNaN;   // token 0, head 0: first half NaN
    q[(1 * 2 + 0) * 6 + 4] = kInf;   // token 1, head 0: second half +-inf
    q[(2 * 2 + 1) * 6 + 0] = -kInf;  // token 2, head 1: first half +-inf
    q[(3 * 2 + 1) * 6 + 0] = kInf;   // token 3, head 1: both halves infinite (NaN where signs
    q[(3 * 2 + 1) * 6 + 5] = kInf;   // differ)
    for (std::int64_t i : {1, 4, 6}) k1[(0 * 8 + i) * half + 2] = kNaN;  // head 0: NaN rows
    k1[(1 * 8 + 3) * half + 1] = kInf;                                   // head 1: inf row
    k2[(0 * 8 + 2) * half + 0] = -kInf;                                  // head 0: -inf row
    for (std::int64_t j = 0; j < 8; ++j) k2[(1 * 8 + j) * half + 2] = j % 2 ? kNaN : 1.0;
    const Result brute = search(&ref::bruteforce_topk, q, k1, k2, s);
    const Result pkm = search(&ref::pkm_topk, q, k1, k2, s);
    expect_distinct(brute, s, "bruteforce");
    expect_distinct(pkm, s, "pkm");
    for (std::int64_t t = 0; t < s.tokens; ++t) {
      for (std::int64_t h = 0; h < s.heads; ++h) {
        const double* qv = q.data() + (t * 2 + h) * 6;
        auto side = [&](const Vec& keys, const double* qh) {
          std::vector<std::pair<double, std::int64_t>> v;
          for (std::int64_t i = 0; i < 8; ++i) {
            double d = 0;
            for (std::int64_t e = 0; e < half; ++e) d += qh[e] * keys[(h * 8 + i) * half + e];
            v.push_back({d, i});
          }
          return v;
        };
        auto sort_by_order = [](std::vector<std::pair<double, std::int64_t>>& v) {
          std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) {
            return total_before(x.first, x.second, y.first, y.second);
          });
        };
        auto a = side(k1, qv), b = side(k2, qv + half);
        std::vector<std::pair<double, std::int64_t>> all, cand;
        for (const auto& [sa, i] : a) {
          for (const auto& [sb, j] : b) all.push_back({sa + sb, i * 8 + j});
        }
        sort_by_order(all);
        sort_by_order(a);
        sort_by_order(b);
        for (std::int64_t x = 0; x < k; ++x) {
          for (std::int64_t y = 0; y < k; ++y) {
            cand.push_back({a[x].first + b[y].first, a[x].second * 8 + b[y].second});
          }
        }
        sort_by_order(cand);
        for (std::int64_t m = 0; m < k; ++m) {
          const std::size_t at = static_cast<std::size_t>((t * 2 + h) * k + m);
          EXPECT_EQ(brute.indices[at], all[m].second) << "t" << t << " h" << h << " k" << k;
          EXPECT_EQ(pkm.indices[at], cand[m].second) << "t" << t << " h" << h << " k" << k;
          const double kb = ref::pkm_order_key(brute.scores[at]);
          const double kp = ref::pkm_order_key(pkm.scores[at]);
          if (std::isfinite(kb)) {
            EXPECT_NEAR(kp, kb, 1e-12) << "t" << t << " h" << h << " k" << k << " m" << m;
          } else {
            EXPECT_EQ(kp, kb) << "t" << t << " h" << h << " k" << k << " m" << m;
          }
        }
      }
    }
    const Result again = search(&ref::bruteforce_topk, q, k1, k2, s);
    EXPECT_EQ(again.indices, brute.indices);
    EXPECT_EQ(0, std::memcmp(again.scores.data(), brute.scores.data(),
                             brute.scores.size() * sizeof(double)));
  }
}

TEST(PkmReference, RejectsBadShapesWithOneLine) {
  const Vec q(8, 1.0), k(32, 1.0);
  Result r{Vec(64, kNaN), Idx(64, -7)};
  auto run = [&](const ref::PkmShape& s) {
    ref::pkm_topk(q.data(), k.data(), k.data(), r.scores.data(), r.indices.data(), s);
  };
  try {
    run({1, 1, 4, 2, 5});
    FAIL() << "k > sqrt(N) accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("sqrt(N)=4"), std::string::npos) << e.what();
  }
  try {
    run({1, 1, 4, 3, 2});
    FAIL() << "odd dk accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("even"), std::string::npos) << e.what();
  }
  EXPECT_THROW(run({1, 1, 4, 2, 0}), std::invalid_argument);
}

// BN(x W + b) by hand: x = [1, 2], W = [[1, 3], [2, -1]], b = [0.5, 0]:
// z = [1 + 4 + 0.5, 3 - 2 + 0] = [5.5, 1]; mean [1.5, 2], var [4 - eps, 1 - eps] so that
// sqrt(var + eps) = [2, 1]; gamma [2, 3], beta [1, -1]: q = [(5.5-1.5)/2*2+1, (1-2)/1*3-1] = [5,
// -4].
TEST(PkmReference, QueryBatchNormInInferenceForm) {
  const double eps = 1e-5;
  const Vec x = {1, 2}, w = {1, 3, 2, -1}, b = {0.5, 0}, mean = {1.5, 2}, var = {4 - eps, 1 - eps},
            gamma = {2, 3}, beta = {1, -1};
  Vec q(2, kNaN);
  ref::pkm_query(x.data(), w.data(), b.data(), mean.data(), var.data(), gamma.data(), beta.data(),
                 q.data(), 1, 2, 2, eps);
  EXPECT_NEAR(q[0], 5.0, 1e-12);
  EXPECT_NEAR(q[1], -4.0, 1e-12);
}

// Softmax over [0, ln 3] gives [1/4, 3/4]; two heads are summed:
// head 0 reads rows 0 and 2, head 1 (scores [5, 5]: 1/2 each) rows 1 and 2.
TEST(PkmReference, ReadoutIsSoftmaxWeightedSumOverHeads) {
  const Vec scores = {0, std::log(3.0), 5, 5};
  const Idx indices = {0, 2, 1, 2};
  const Vec values = {4, 8, /*row 1*/ 2, -2, /*row 2*/ 0, 4};
  Vec y(2, kNaN);
  ref::pkm_readout(scores.data(), indices.data(), values.data(), y.data(), 1, 2, 2, 2);
  // head 0: 1/4 [4, 8] + 3/4 [0, 4] = [1, 5]; head 1: 1/2 [2, -2] + 1/2 [0, 4] = [1, 1]
  EXPECT_NEAR(y[0], 2.0, 1e-12);
  EXPECT_NEAR(y[1], 6.0, 1e-12);
}

// Large equal scores do not overflow the softmax (it is shifted by the maximum).
TEST(PkmReference, ReadoutSoftmaxIsShifted) {
  const Vec scores = {1000, 1000};
  const Idx indices = {0, 1};
  const Vec values = {1, 3};
  Vec y(1, kNaN);
  ref::pkm_readout(scores.data(), indices.data(), values.data(), y.data(), 1, 1, 2, 1);
  EXPECT_NEAR(y[0], 2.0, 1e-12);
}

// The layer is the query network, the search and the readout: checked against the independent
// top-k of its queries and a readout computed here.
TEST(PkmReference, LayerComposesQuerySearchAndReadout) {
  const ref::PkmShape s{3, 2, 6, 4, 3};
  const std::int64_t din = 5, dv = 3, hdk = 8;
  const Vec x = seeded(3 * din, 31), w = seeded(din * hdk, 32), b = seeded(hdk, 33),
            mean = seeded(hdk, 34), gamma = seeded(hdk, 35), beta = seeded(hdk, 36),
            k1 = seeded(2 * 6 * 2, 37), k2 = seeded(2 * 6 * 2, 38), values = seeded(36 * dv, 39);
  const Vec var(hdk, 0.7);
  Vec y(3 * dv, kNaN);
  Idx idx(3 * 2 * 3, -7);
  ref::pkm_layer(x.data(),
                 {w.data(), b.data(), mean.data(), var.data(), gamma.data(), beta.data(), k1.data(),
                  k2.data(), values.data()},
                 y.data(), idx.data(), s, din, dv, 1e-5);
  Vec q(3 * hdk);
  ref::pkm_query(x.data(), w.data(), b.data(), mean.data(), var.data(), gamma.data(), beta.data(),
                 q.data(), 3, din, hdk, 1e-5);
  const Result want = independent_topk(q, k1, k2, s);
  EXPECT_EQ(idx, want.indices);
  for (std::int64_t t = 0; t < 3; ++t) {
    for (std::int64_t j = 0; j < dv; ++j) {
      double expect = 0;
      for (std::int64_t h = 0; h < 2; ++h) {
        const double* sc = want.scores.data() + (t * 2 + h) * 3;
        double z = 0;
        for (int m = 0; m < 3; ++m) z += std::exp(sc[m]);
        for (int m = 0; m < 3; ++m) {
          expect += std::exp(sc[m]) / z * values[want.indices[(t * 2 + h) * 3 + m] * dv + j];
        }
      }
      EXPECT_NEAR(y[t * dv + j], expect, 1e-12) << "token " << t << " column " << j;
    }
  }
}

}  // namespace
