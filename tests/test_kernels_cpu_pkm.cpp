// Tests of the pkm family's CPU kernels (kernels/cpu/pkm_plain, pkm_fast, topk_select) against
// the float64 references and against std::sort. Outputs start poisoned (NaN scores, -7 indices).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/pkm_fast.hpp"
#include "kernels/cpu/pkm_plain.hpp"
#include "kernels/cpu/topk_select.hpp"
#include "reference/pkm.hpp"

namespace {

using namespace opbench;
using Fvec = std::vector<float>;
using Idx = std::vector<std::int64_t>;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Fvec seeded(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  Fvec v(n);
  for (auto& e : v) e = dist(g);
  return v;
}

std::vector<double> widen(const Fvec& v) {
  return {v.begin(), v.end()};
}

struct Inputs {
  pkm::Dims d;
  Fvec q, k1, k2;
};

Inputs make_inputs(const pkm::Dims& d, std::uint64_t seed) {
  return {d, seeded(d.tokens * d.heads * d.dk, seed), seeded(d.heads * d.n * d.half(), seed + 1),
          seeded(d.heads * d.n * d.half(), seed + 2)};
}

ref::PkmShape shape(const pkm::Dims& d) {
  return {d.tokens, d.heads, d.n, d.dk, d.k};
}

struct Out {
  Fvec scores;
  Idx indices;
  explicit Out(const pkm::Dims& d)
      : scores(d.tokens * d.heads * d.k, kNaN), indices(d.tokens * d.heads * d.k, -7) {}
};

// Indices equal to the float64 brute force, scores within 1e-5 of sum |q_d key_d| (the float32
// rounding scale). Seeded normal data has no product scores within rounding of each other at
// these sizes, so there is no tie to accept here (the suite's tests cover ties).
void expect_matches_reference(const Inputs& in, const Out& out, const char* what) {
  const auto q = widen(in.q), k1 = widen(in.k1), k2 = widen(in.k2);
  const ref::PkmShape s = shape(in.d);
  std::vector<double> rs(out.scores.size());
  Idx ri(out.indices.size());
  ref::bruteforce_topk(q.data(), k1.data(), k2.data(), rs.data(), ri.data(), s);
  for (std::size_t at = 0; at < ri.size(); ++at) {
    const std::int64_t r = static_cast<std::int64_t>(at) / s.k;
    ASSERT_EQ(out.indices[at], ri[at]) << what << " element " << at;
    const double mag = ref::product_key_magnitude(q.data(), k1.data(), k2.data(), s, r / s.heads,
                                                  r % s.heads, ri[at]);
    EXPECT_NEAR(out.scores[at], rs[at], 1e-5 * mag) << what << " element " << at;
  }
}

class PkmCpuSearch : public ::testing::TestWithParam<pkm::Dims> {};

TEST_P(PkmCpuSearch, EveryKernelMatchesTheReference) {
  const Inputs in = make_inputs(GetParam(), 7);
  const pkm::Dims& d = in.d;
  {
    Out out(d);
    cpu::plain::pkm_topk(in.q.data(), in.k1.data(), in.k2.data(), out.scores.data(),
                         out.indices.data(), d);
    expect_matches_reference(in, out, "plain pkm");
  }
  {
    Out out(d);
    cpu::plain::bruteforce_topk(in.q.data(), in.k1.data(), in.k2.data(), out.scores.data(),
                                out.indices.data(), d);
    expect_matches_reference(in, out, "plain bruteforce");
  }
  {
    Out out(d);
    cpu::fast::PkmTopk k(d);
    k.run(in.q.data(), in.k1.data(), in.k2.data(), out.scores.data(), out.indices.data());
    expect_matches_reference(in, out, "fast pkm");
    // A second run into fresh poison: the kernel keeps no state between runs.
    Out again(d);
    k.run(in.q.data(), in.k1.data(), in.k2.data(), again.scores.data(), again.indices.data());
    EXPECT_EQ(again.indices, out.indices);
  }
  {
    Out out(d);
    cpu::fast::BruteforceTopk k(in.k1.data(), in.k2.data(), d);
    k.run(in.q.data(), out.scores.data(), out.indices.data());
    expect_matches_reference(in, out, "fast bruteforce");
    Out again(d);
    k.run(in.q.data(), again.scores.data(), again.indices.data());
    EXPECT_EQ(again.indices, out.indices);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PkmCpuSearch,
    ::testing::Values(pkm::Dims{37, 4, 16, 32, 8},   // tokens not a multiple of anything
                      pkm::Dims{5, 1, 16, 8, 1},     // one head, k = 1
                      pkm::Dims{3, 2, 12, 6, 12},    // k = sqrt(N), odd half
                      pkm::Dims{9, 2, 64, 16, 32}),  // N = 4096: two key blocks of the brute force
    [](const auto& info) {
      const pkm::Dims& d = info.param;
      return "t" + std::to_string(d.tokens) + "h" + std::to_string(d.heads) + "n" +
             std::to_string(d.n) + "dk" + std::to_string(d.dk) + "k" + std::to_string(d.k);
    });

// Duplicated sub-keys: exact float32 ties. The plain and fast kernels compute identical sums for
// identical rows here (dk/2 = 4 is one vector, no blocking), so both return the smaller index
// first, like the reference.
TEST(PkmCpuSearch, ExactTiesGoToTheSmallerIndex) {
  pkm::Dims d{4, 2, 9, 8, 7};
  Inputs in = make_inputs(d, 17);
  for (Fvec* keys : {&in.k1, &in.k2}) {
    for (std::int64_t h = 0; h < d.heads; ++h) {
      for (std::int64_t i = 0; i < d.n; ++i) {
        std::copy_n(keys->data() + (h * d.n + i - i % 3) * 4, 4, keys->data() + (h * d.n + i) * 4);
      }
    }
  }
  Out plain(d), fast(d);
  cpu::plain::pkm_topk(in.q.data(), in.k1.data(), in.k2.data(), plain.scores.data(),
                       plain.indices.data(), d);
  cpu::fast::PkmTopk k(d);
  k.run(in.q.data(), in.k1.data(), in.k2.data(), fast.scores.data(), fast.indices.data());
  EXPECT_EQ(fast.indices, plain.indices);
  for (std::size_t at = 0; at + 1 < plain.indices.size(); ++at) {
    if ((at + 1) % d.k == 0) continue;
    if (plain.scores[at] == plain.scores[at + 1]) {
      EXPECT_LT(plain.indices[at], plain.indices[at + 1]) << "element " << at;
    }
  }
}

// select_topk against std::sort over (score desc, index asc), with many repeated values.
TEST(TopkSelect, PartialSelectionEqualsSorting) {
  std::mt19937_64 g(3);
  for (int trial = 0; trial < 200; ++trial) {
    const std::int64_t n = 1 + static_cast<std::int64_t>(g() % 300);
    const std::int64_t k = 1 + static_cast<std::int64_t>(g() % static_cast<std::uint64_t>(n));
    Fvec s(n);
    for (auto& v : s) v = static_cast<float>(static_cast<int>(g() % 40) - 20);  // ties
    std::vector<std::int32_t> order(n);
    for (std::int64_t i = 0; i < n; ++i) order[i] = static_cast<std::int32_t>(i);
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
    Fvec got(k, kNaN);
    std::vector<std::int32_t> gi(k, -7);
    cpu::fast::SelectScratch scratch(n, k);
    cpu::fast::select_topk(s.data(), n, k, got.data(), gi.data(), scratch);
    for (std::int64_t m = 0; m < k; ++m) {
      ASSERT_EQ(gi[m], order[m]) << "n " << n << " k " << k << " m " << m;
      ASSERT_EQ(got[m], s[order[m]]);
    }
  }
}

// combine_sorted (pruned walk) against scoring all k x k candidates and sorting.
TEST(TopkSelect, SortedCombinationEqualsAllPairs) {
  std::mt19937_64 g(5);
  for (int trial = 0; trial < 200; ++trial) {
    const std::int64_t n = 2 + static_cast<std::int64_t>(g() % 60);
    const std::int64_t k = 1 + static_cast<std::int64_t>(g() % static_cast<std::uint64_t>(n));
    Fvec s1(n), s2(n);
    for (auto& v : s1) v = static_cast<float>(static_cast<int>(g() % 10));
    for (auto& v : s2) v = static_cast<float>(static_cast<int>(g() % 10)) * 0.5f;
    Fvec a(k), b(k);
    std::vector<std::int32_t> ia(k), ib(k);
    cpu::fast::SelectScratch scratch(n, k);
    cpu::fast::select_topk(s1.data(), n, k, a.data(), ia.data(), scratch);
    cpu::fast::select_topk(s2.data(), n, k, b.data(), ib.data(), scratch);
    std::vector<std::pair<float, std::int64_t>> all;
    for (std::int64_t x = 0; x < k; ++x) {
      for (std::int64_t y = 0; y < k; ++y) all.push_back({a[x] + b[y], ia[x] * n + ib[y]});
    }
    std::sort(all.begin(), all.end(), [](const auto& u, const auto& v) {
      return u.first > v.first || (u.first == v.first && u.second < v.second);
    });
    Fvec got(k, kNaN);
    Idx gi(k, -7);
    cpu::fast::combine_sorted(a.data(), ia.data(), b.data(), ib.data(), k, n, got.data(),
                              gi.data());
    for (std::int64_t m = 0; m < k; ++m) {
      ASSERT_EQ(gi[m], all[m].second) << "n " << n << " k " << k << " m " << m;
      ASSERT_EQ(got[m], all[m].first);
    }
  }
}

// --- NaN and infinite scores: the total order of reference/pkm.hpp -----------------------------

constexpr float kInf = std::numeric_limits<float>::infinity();

// The order, written out here: NaN ranks with -inf, then larger score first, then smaller index.
template <class I>
bool total_before(float a, I ia, float b, I ib) {
  const float ka = std::isnan(a) ? -kInf : a, kb = std::isnan(b) ? -kInf : b;
  return ka > kb || (ka == kb && ia < ib);
}

// A score drawn from a few values with NaN and both infinities among them (many exact ties).
float special_draw(std::mt19937_64& g) {
  switch (g() % 8) {
    case 0:
      return kNaN;
    case 1:
      return kInf;
    case 2:
      return -kInf;
    default:
      return static_cast<float>(static_cast<int>(g() % 9) - 4);
  }
}

// select_topk against std::sort in the total order, with NaN and infinities: every path (few
// candidates ranked, many candidates through the list, a bound of -inf taking NaN in).
TEST(TopkSelect, PartialSelectionWithNaNEqualsSorting) {
  std::mt19937_64 g(13);
  for (int trial = 0; trial < 400; ++trial) {
    const std::int64_t n = 1 + static_cast<std::int64_t>(g() % 400);
    const std::int64_t k = 1 + static_cast<std::int64_t>(g() % static_cast<std::uint64_t>(n));
    Fvec s(n);
    const bool mostly_nan = trial % 4 == 0;  // fewer than k non-NaN scores
    for (auto& v : s) v = mostly_nan && g() % 4 != 0 ? kNaN : special_draw(g);
    std::vector<std::int32_t> order(n);
    for (std::int64_t i = 0; i < n; ++i) order[i] = static_cast<std::int32_t>(i);
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return total_before(s[a], a, s[b], b); });
    Fvec got(k, 7.0f);
    std::vector<std::int32_t> gi(k, -7);
    cpu::fast::SelectScratch scratch(n, k);
    cpu::fast::select_topk(s.data(), n, k, got.data(), gi.data(), scratch);
    for (std::int64_t m = 0; m < k; ++m) {
      ASSERT_EQ(gi[m], order[m]) << "trial " << trial << " n " << n << " k " << k << " m " << m;
      const float want = s[order[m]];
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got[m])) << "trial " << trial << " m " << m;
      } else {
        ASSERT_EQ(got[m], want) << "trial " << trial << " m " << m;
      }
    }
  }
}

// combine_sorted against all k x k sums sorted in the total order, with NaN and infinite halves
// (rows and columns of NaN, inf + -inf = NaN, runs of equal infinite sums ordered by index).
TEST(TopkSelect, SortedCombinationWithNaNEqualsAllPairs) {
  std::mt19937_64 g(17);
  for (int trial = 0; trial < 400; ++trial) {
    const std::int64_t n = 2 + static_cast<std::int64_t>(g() % 40);
    const std::int64_t k = 1 + static_cast<std::int64_t>(g() % static_cast<std::uint64_t>(n));
    Fvec s1(n), s2(n);
    for (auto& v : s1) v = special_draw(g);
    for (auto& v : s2) v = special_draw(g) * 0.5f;
    Fvec a(k), b(k);
    std::vector<std::int32_t> ia(k), ib(k);
    cpu::fast::SelectScratch scratch(n, k);
    cpu::fast::select_topk(s1.data(), n, k, a.data(), ia.data(), scratch);
    cpu::fast::select_topk(s2.data(), n, k, b.data(), ib.data(), scratch);
    std::vector<std::pair<float, std::int64_t>> all;
    for (std::int64_t x = 0; x < k; ++x) {
      for (std::int64_t y = 0; y < k; ++y) all.push_back({a[x] + b[y], ia[x] * n + ib[y]});
    }
    std::sort(all.begin(), all.end(), [](const auto& u, const auto& v) {
      return total_before(u.first, u.second, v.first, v.second);
    });
    Fvec got(k, 7.0f);
    Idx gi(k, -7);
    cpu::fast::combine_sorted(a.data(), ia.data(), b.data(), ib.data(), k, n, got.data(),
                              gi.data());
    for (std::int64_t m = 0; m < k; ++m) {
      ASSERT_EQ(gi[m], all[m].second) << "trial " << trial << " n " << n << " k " << k;
      if (std::isnan(all[m].first)) {
        ASSERT_TRUE(std::isnan(got[m])) << "trial " << trial << " m " << m;
      } else {
        ASSERT_EQ(got[m], all[m].first) << "trial " << trial << " m " << m;
      }
    }
  }
}

// Seeded inputs with NaN and infinities planted where a user's tensors could hold them:
//  token 0: a NaN in the first half of every head's query (every sub-key score NaN);
//  token 1: a NaN in the second half of head 0;
//  token 2: +inf in the first half of head 0 (sub-key scores +-inf), -inf in the second half of
//           the last head;
//  token 3: +inf in both halves of the last head (sums of +inf and -inf: NaN);
//  head 0:  every third k1 row NaN, k2 row 1 with a -inf;
//  last head: k1 rows all NaN but row 2, k2 rows NaN but rows 0-2: three finite products, so a
//           list with k > 3 ends in NaN entries.
Inputs special_inputs(const pkm::Dims& d, std::uint64_t seed) {
  Inputs in = make_inputs(d, seed);
  const std::int64_t half = d.half(), last = d.heads - 1;
  auto q = [&](std::int64_t t, std::int64_t h, std::int64_t e) -> float& {
    return in.q[(t * d.heads + h) * d.dk + e];
  };
  auto row = [&](Fvec& keys, std::int64_t h, std::int64_t i) {
    return keys.data() + (h * d.n + i) * half;
  };
  for (std::int64_t h = 0; h < d.heads; ++h) q(0, h, half - 1) = kNaN;
  q(1, 0, half) = kNaN;
  q(2, 0, 0) = kInf;
  q(2, last, d.dk - 1) = -kInf;
  q(3, last, 0) = kInf;
  q(3, last, half) = kInf;
  for (std::int64_t i = 0; i < d.n; i += 3) row(in.k1, 0, i)[0] = kNaN;
  row(in.k2, 0, 1)[half - 1] = -kInf;
  for (std::int64_t i = 0; i < d.n; ++i) {
    if (i != 2) row(in.k1, last, i)[half - 1] = kNaN;
    if (i > 2) row(in.k2, last, i)[0] = kNaN;
  }
  return in;
}

// Indices equal to the float64 reference's (the product-key search or the brute force), scores NaN
// where its are, equal where infinite, else within 1e-5 of sum |q_d key_d|.
void expect_same_as(decltype(&ref::pkm_topk) reference, const Inputs& in, const Out& out,
                    const std::string& what) {
  const auto q = widen(in.q), k1 = widen(in.k1), k2 = widen(in.k2);
  const ref::PkmShape s = shape(in.d);
  std::vector<double> rs(out.scores.size(), std::nan(""));
  Idx ri(out.indices.size(), -9);
  reference(q.data(), k1.data(), k2.data(), rs.data(), ri.data(), s);
  int nan_scores = 0;
  for (std::size_t at = 0; at < ri.size(); ++at) {
    const std::int64_t r = static_cast<std::int64_t>(at) / s.k;
    ASSERT_EQ(out.indices[at], ri[at])
        << what << " token " << r / s.heads << " head " << r % s.heads << " position " << at % s.k;
    if (std::isnan(rs[at])) {
      ++nan_scores;
      EXPECT_TRUE(std::isnan(out.scores[at])) << what << " element " << at;
    } else if (std::isinf(rs[at])) {
      EXPECT_EQ(out.scores[at], rs[at]) << what << " element " << at;
    } else {
      const double mag = ref::product_key_magnitude(q.data(), k1.data(), k2.data(), s, r / s.heads,
                                                    r % s.heads, ri[at]);
      EXPECT_NEAR(out.scores[at], rs[at], 1e-5 * mag) << what << " element " << at;
    }
  }
  EXPECT_GT(nan_scores, 0) << what << ": the inputs should yield NaN scores";
}

class PkmCpuSearchSpecial : public ::testing::TestWithParam<pkm::Dims> {};

TEST_P(PkmCpuSearchSpecial, NaNAndInfiniteScoresEqualTheReference) {
  const Inputs in = special_inputs(GetParam(), 29);
  const pkm::Dims& d = in.d;
  {
    Out out(d);
    cpu::plain::pkm_topk(in.q.data(), in.k1.data(), in.k2.data(), out.scores.data(),
                         out.indices.data(), d);
    expect_same_as(&ref::pkm_topk, in, out, "plain pkm");
  }
  {
    Out out(d);
    cpu::plain::bruteforce_topk(in.q.data(), in.k1.data(), in.k2.data(), out.scores.data(),
                                out.indices.data(), d);
    expect_same_as(&ref::bruteforce_topk, in, out, "plain bruteforce");
  }
  {
    Out out(d);
    cpu::fast::PkmTopk k(d);
    k.run(in.q.data(), in.k1.data(), in.k2.data(), out.scores.data(), out.indices.data());
    expect_same_as(&ref::pkm_topk, in, out, "fast pkm");
  }
  {
    Out out(d);
    cpu::fast::BruteforceTopk k(in.k1.data(), in.k2.data(), d);
    k.run(in.q.data(), out.scores.data(), out.indices.data());
    expect_same_as(&ref::bruteforce_topk, in, out, "fast bruteforce");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PkmCpuSearchSpecial,
    ::testing::Values(pkm::Dims{7, 2, 16, 8, 8},     // k = n / 2
                      pkm::Dims{5, 3, 12, 6, 12},    // k = sqrt(N), odd half
                      pkm::Dims{4, 2, 9, 4, 1},      // k = 1
                      pkm::Dims{6, 2, 64, 16, 32},   // two key blocks of the brute force
                      pkm::Dims{4, 2, 256, 8, 16}),  // NaN rows of 256: select_topk's sorting path
    [](const auto& info) {
      const pkm::Dims& d = info.param;
      return "t" + std::to_string(d.tokens) + "h" + std::to_string(d.heads) + "n" +
             std::to_string(d.n) + "dk" + std::to_string(d.dk) + "k" + std::to_string(d.k);
    });

// The layer: indices equal to the reference's, y within 1e-4 relative (the suite's tolerance).
TEST(PkmCpuLayer, PlainAndFastMatchTheReference) {
  const pkm::Dims d{21, 2, 16, 16, 8};
  const std::int64_t din = 24, dv = 40, hdk = d.heads * d.dk;
  const Fvec x = seeded(d.tokens * din, 41), w = seeded(din * hdk, 42, 0.2f),
             b = seeded(hdk, 43, 0.1f), mean = seeded(hdk, 44, 0.5f), beta = seeded(hdk, 46, 0.1f),
             k1 = seeded(d.heads * d.n * d.half(), 47, 0.3f),
             k2 = seeded(d.heads * d.n * d.half(), 48, 0.3f), values = seeded(d.keys() * dv, 49);
  Fvec var(hdk), gamma = seeded(hdk, 45, 0.2f);
  for (std::int64_t c = 0; c < hdk; ++c) var[c] = 0.5f + 0.01f * static_cast<float>(c);
  for (auto& g : gamma) g += 1.0f;  // scales around 1
  const auto X = widen(x), W = widen(w), B = widen(b), M = widen(mean), V = widen(var),
             G = widen(gamma), Be = widen(beta), K1 = widen(k1), K2 = widen(k2),
             Vals = widen(values);
  std::vector<double> ry(d.tokens * dv);
  Idx ri(d.tokens * d.heads * d.k);
  ref::pkm_layer(X.data(),
                 {W.data(), B.data(), M.data(), V.data(), G.data(), Be.data(), K1.data(), K2.data(),
                  Vals.data()},
                 ry.data(), ri.data(), shape(d), din, dv, 1e-5);
  const pkm::LayerWeights wts{w.data(),    b.data(),  mean.data(), var.data(),   gamma.data(),
                              beta.data(), k1.data(), k2.data(),   values.data()};
  Fvec y(d.tokens * dv, kNaN);
  Idx idx(d.tokens * d.heads * d.k, -7);
  cpu::plain::pkm_layer(x.data(), wts, y.data(), idx.data(), d, din, dv, 1e-5f);
  EXPECT_EQ(idx, ri);
  for (std::size_t j = 0; j < y.size(); ++j) {
    EXPECT_NEAR(y[j], ry[j], 1e-5 + 1e-4 * std::abs(ry[j])) << "plain y " << j;
  }
  std::fill(y.begin(), y.end(), kNaN);
  std::fill(idx.begin(), idx.end(), -7);
  cpu::fast::PkmLayer fast(d, din, dv, 1e-5f);
  fast.run(x.data(), wts, y.data(), idx.data());
  EXPECT_EQ(idx, ri);
  for (std::size_t j = 0; j < y.size(); ++j) {
    EXPECT_NEAR(y[j], ry[j], 1e-5 + 1e-4 * std::abs(ry[j])) << "fast y " << j;
  }
}

}  // namespace
