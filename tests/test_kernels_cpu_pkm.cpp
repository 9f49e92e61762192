// Tests of the pkm family's CPU kernels (kernels/cpu/pkm_plain, pkm_fast, topk_select) against
// the float64 references and against std::sort. Outputs start poisoned (NaN scores, -7 indices).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
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
