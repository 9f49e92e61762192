#include "reports/statistics.hpp"

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <numeric>
#include <utility>

#include "harness/descriptive_stats.hpp"

namespace opbench::reports::stats {

namespace {

std::vector<double> finite_values(const std::vector<double>& v) {
  std::vector<double> out;
  out.reserve(v.size());
  for (double x : v) {
    if (!std::isnan(x)) out.push_back(x);
  }
  return out;
}

// P(Z > z) for a standard normal Z.
double normal_sf(double z) {
  if (std::isnan(z)) return NAN;
  if (z == INFINITY) return 0;
  if (z == -INFINITY) return 1;
  return boost::math::cdf(boost::math::complement(boost::math::normal_distribution<double>(), z));
}

// P(U >= u) under the null hypothesis for samples of m and n values without ties: the counts of
// the C(m + n, m) equally likely arrangements, built by adding one value at a time (sums only, so
// no cancellation however large the counts get).
double exact_sf(double u, std::size_t m, std::size_t n) {
  if (m > n) std::swap(m, n);  // U's null distribution is the same either way round
  const std::size_t max_u = m * n;
  // count[c][k]: arrangements of the values seen so far with c of them from the smaller sample
  // and U = k (the number of (smaller, larger) pairs where the larger-sample value comes first).
  std::vector<std::vector<double>> count(m + 1, std::vector<double>(max_u + 1, 0.0));
  count[0][0] = 1;
  for (std::size_t t = 0; t < m + n; ++t) {
    // Value t (0-based) is either from the larger sample (nothing changes) or the (c + 1)-th of
    // the smaller one, with t - c larger-sample values before it.
    for (std::size_t c = std::min(m, t + 1); c-- > 0;) {
      if (t < c) continue;
      std::size_t before = t - c;
      if (before > n) continue;
      const std::vector<double>& from = count[c];
      std::vector<double>& to = count[c + 1];
      for (std::size_t k = 0; k + before <= max_u; ++k) {
        if (from[k] != 0) to[k + before] += from[k];
      }
    }
  }
  const std::vector<double>& dist = count[m];
  double total = 0, tail = 0;
  for (std::size_t k = 0; k <= max_u; ++k) {
    total += dist[k];
    if (static_cast<double>(k) >= u - 1e-9) tail += dist[k];
  }
  return total > 0 ? tail / total : 1;
}

// Ranks 1..n with ties given their average rank; `tie_term` gets the sum of t^3 - t over groups of
// t tied values.
std::vector<double> average_ranks(const std::vector<double>& values, double& tie_term) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  tie_term = 0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i + 1;
    while (j < order.size() && values[order[j]] == values[order[i]]) ++j;
    double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k) ranks[order[k]] = rank;
    double t = static_cast<double>(j - i);
    tie_term += t * t * t - t;
    i = j;
  }
  return ranks;
}

// scipy's default takes the exact distribution when a sample has at most 8 values; opbench also
// takes it up to 40 values in all, where it costs well under a millisecond. The normal
// approximation understates how unlikely a clean separation is (9 against 9: 4e-4 instead of the
// exact 4e-5), and the adjustment over many cases needs the exact value: at 4e-4 a single clear
// change among 175 cases could never be called.
bool exact_region(std::size_t n1, std::size_t n2) {
  return n1 <= 8 || n2 <= 8 || n1 + n2 <= 40;
}

}  // namespace

// The harness's definitions (harness/descriptive_stats.hpp), over the finite values only: a
// report may hold anything.
double median(std::vector<double> values) {
  return opbench::stats::median(finite_values(values));
}

double coefficient_of_variation(const std::vector<double>& values) {
  return opbench::stats::cv(finite_values(values));
}

const char* method_name(UMethod m) {
  switch (m) {
    case UMethod::kExact:
      return "exact";
    case UMethod::kNormal:
      return "normal";
    case UMethod::kNone:
      break;
  }
  return "none";
}

UTest mann_whitney_u(const std::vector<double>& a_in, const std::vector<double>& b_in) {
  std::vector<double> a = finite_values(a_in), b = finite_values(b_in);
  UTest r;
  r.n1 = a.size();
  r.n2 = b.size();
  if (a.empty() || b.empty()) return r;
  std::vector<double> all = a;
  all.insert(all.end(), b.begin(), b.end());
  double tie_term = 0;
  std::vector<double> ranks = average_ranks(all, tie_term);
  const double n1 = static_cast<double>(r.n1), n2 = static_cast<double>(r.n2);
  double r1 = 0;
  for (std::size_t i = 0; i < r.n1; ++i) r1 += ranks[i];
  r.u = r1 - n1 * (n1 + 1) / 2;
  const double u_max = std::max(r.u, n1 * n2 - r.u);
  const bool ties = tie_term > 0;
  if (exact_region(r.n1, r.n2) && !ties) {
    r.method = UMethod::kExact;
    r.p_value = 2 * exact_sf(std::round(u_max), r.n1, r.n2);
  } else {
    r.method = UMethod::kNormal;
    const double n = n1 + n2;
    const double s = std::sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))));
    // Every value equal: no evidence of any difference.
    r.p_value = s > 0 ? 2 * normal_sf((u_max - n1 * n2 / 2 - 0.5) / s) : 1;
  }
  r.p_value = std::clamp(r.p_value, 0.0, 1.0);
  return r;
}

double smallest_p_value(std::size_t n1, std::size_t n2) {
  if (n1 == 0 || n2 == 0) return 1;
  if (exact_region(n1, n2)) {
    // 2 / C(n1 + n2, n1): only the two most extreme arrangements reach it.
    double c = 1;
    std::size_t k = std::min(n1, n2), n = n1 + n2;
    for (std::size_t i = 1; i <= k; ++i) c = c * static_cast<double>(n - k + i) / i;
    return std::min(1.0, 2 / c);
  }
  const double a = static_cast<double>(n1), b = static_cast<double>(n2);
  const double s = std::sqrt(a * b * (a + b + 1) / 12);
  return std::min(1.0, 2 * normal_sf((a * b / 2 - 0.5) / s));
}

std::size_t repetitions_needed(double alpha) {
  for (std::size_t n = 1; n < 1000; ++n) {
    if (smallest_p_value(n, n) <= alpha) return n;
  }
  return 1000;
}

std::vector<double> benjamini_hochberg(const std::vector<double>& p) {
  const std::size_t m = p.size();
  std::vector<std::size_t> order(m);
  for (std::size_t i = 0; i < m; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  std::vector<double> q(m);
  double running = 1.0;  // the minimum from the largest p-value down
  for (std::size_t r = m; r-- > 0;) {
    const double scaled = p[order[r]] * static_cast<double>(m) / static_cast<double>(r + 1);
    running = std::min(running, scaled);
    q[order[r]] = running;
  }
  return q;
}

double detectable_change(const std::vector<double>& a, const std::vector<double>& b, bool slower,
                         double level) {
  const std::vector<double> base = finite_values(a);
  std::vector<double> now = finite_values(b);
  const double ma = median(base), mb = median(now);
  if (base.empty() || now.empty() || !(ma > 0) || !(mb > 0)) return NAN;
  if (smallest_p_value(base.size(), now.size()) >= level) return NAN;
  for (double& v : now) v *= ma / mb;
  // The p-value falls as the shift grows (the ranks of the shifted sample only rise), so bisect
  // on the factor between no change and a change far beyond any spread (100x).
  auto p_at = [&](double factor) {
    std::vector<double> shifted = now;
    for (double& v : shifted) v *= factor;
    return mann_whitney_u(base, shifted).p_value;
  };
  const double far = slower ? 100.0 : 0.01;
  if (p_at(far) >= level) return NAN;
  double lo = 1.0, hi = far;  // p(lo) >= level > p(hi)
  for (int i = 0; i < 60; ++i) {
    const double mid = slower ? 0.5 * (lo + hi) : std::sqrt(lo * hi);
    (p_at(mid) < level ? hi : lo) = mid;
  }
  return slower ? hi - 1.0 : 1.0 - hi;
}

}  // namespace opbench::reports::stats
