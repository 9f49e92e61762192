#pragma once
// The statistics of `opbench compare`: medians, the coefficient of variation, and the two-sided
// Mann-Whitney U test over the repetitions of a case, computed as scipy.stats.mannwhitneyu does
// (which Google Benchmark's tools/compare.py calls): the exact distribution of U when there are
// no ties and either sample has at most 8 values (scipy's default) or both together at most 40
// (scipy's method="exact"), else the normal approximation with the tie correction and a
// continuity correction of 1/2.
#include <cstddef>
#include <string>
#include <vector>

namespace opbench::reports::stats {

// The median (the mean of the middle two for an even count); NaN for no values.
double median(std::vector<double> values);

// Sample standard deviation over the mean (n - 1 in the denominator, as Google Benchmark's cv);
// NaN for fewer than 2 values or a zero mean.
double coefficient_of_variation(const std::vector<double>& values);

enum class UMethod { kNone, kExact, kNormal };

const char* method_name(UMethod m);  // "none", "exact", "normal"

struct UTest {
  UMethod method = UMethod::kNone;  // kNone: a sample was empty
  double u = 0;                     // U of the first sample (scipy's `statistic`)
  double p_value = 1;               // two-sided
  std::size_t n1 = 0, n2 = 0;
};

// Two-sided Mann-Whitney U test of `a` against `b` (NaNs are dropped first).
UTest mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b);

// The smallest two-sided p-value the test can give for samples of n1 and n2 values (no ties):
// 2 / C(n1 + n2, n1) where the exact distribution is used, the normal approximation's otherwise.
// When this exceeds alpha, no difference can be significant: too few repetitions to judge.
double smallest_p_value(std::size_t n1, std::size_t n2);

// The smallest relative change of `b` against `a` (a fraction: 0.12 for 12%) in one direction
// (slower: b's times grow) that the U test would call significant at `level`: b's values are
// scaled so their median equals a's, then shifted by a growing factor until the two-sided
// p-value falls below `level`. NaN when no shift can (too few values for `level`).
double detectable_change(const std::vector<double>& a, const std::vector<double>& b, bool slower,
                         double level);

// The fewest repetitions (the same in both runs) with which the test can reach `alpha`.
std::size_t repetitions_needed(double alpha);

// Benjamini-Hochberg adjusted p-values (q-values, as R's p.adjust(p, "BH")), in the order given:
// q_(i) = min over j >= i of p_(j) * m / j over the sorted p-values, at most 1. Calling the cases
// with q <= alpha significant keeps the expected share of false calls among them at alpha,
// however many cases a comparison holds; p <= alpha alone flags about alpha of all unchanged
// cases (4 of 84 at 0.05).
std::vector<double> benjamini_hochberg(const std::vector<double>& p);

}  // namespace opbench::reports::stats
