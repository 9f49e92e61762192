// Tests of the FAISS peer of the pkm family (kernels/cpu/faiss_pkm.cpp): exact inner-product
// search over the materialized product keys. Built only when FAISS was found.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/faiss_pkm.hpp"
#include "reference/pkm.hpp"

namespace opbench {
namespace {

TEST(FaissPkm, VersionIsMajorMinorPatch) {
  const std::string v = faiss_peer::version();
  EXPECT_EQ(std::count(v.begin(), v.end(), '.'), 2) << v;
}

// FAISS's flat index returns the brute-force top-k: same indices as the float64 reference on
// seeded data without ties, scores within float32 rounding, every output written.
TEST(FaissPkm, FlatSearchMatchesTheReference) {
  const pkm::Dims d{13, 3, 20, 16, 7};
  std::mt19937_64 g(9);
  std::normal_distribution<float> nd;
  std::vector<float> q(d.tokens * d.heads * d.dk), k1(d.heads * d.n * d.half()), k2(k1.size());
  for (auto* v : {&q, &k1, &k2}) {
    for (auto& e : *v) e = nd(g);
  }
  std::vector<float> scores(d.tokens * d.heads * d.k, std::numeric_limits<float>::quiet_NaN());
  std::vector<std::int64_t> indices(scores.size(), -7);
  faiss_peer::FlatTopk index(k1.data(), k2.data(), d);
  index.run(q.data(), scores.data(), indices.data());

  const std::vector<double> Q(q.begin(), q.end()), K1(k1.begin(), k1.end()),
      K2(k2.begin(), k2.end());
  std::vector<double> rs(scores.size());
  std::vector<std::int64_t> ri(scores.size());
  const ref::PkmShape s{d.tokens, d.heads, d.n, d.dk, d.k};
  ref::bruteforce_topk(Q.data(), K1.data(), K2.data(), rs.data(), ri.data(), s);
  EXPECT_EQ(indices, ri);
  for (std::size_t at = 0; at < rs.size(); ++at) {
    EXPECT_NEAR(scores[at], rs[at], 1e-5 * (1 + std::abs(rs[at]))) << "element " << at;
  }
}

}  // namespace
}  // namespace opbench
