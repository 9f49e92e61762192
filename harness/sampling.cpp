#include "harness/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace opbench {

namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

Sample choose_sample(const Op& op, const Params& p, double budget_flops, std::uint64_t seed) {
  Sample s;
  if (op.sample_axis.empty() || !op.reference_flops) return s;
  const std::int64_t total = p.i(op.sample_axis);
  const double flops = op.reference_flops(p);
  if (total <= 1 || !(flops > budget_flops)) return s;
  const auto affordable = static_cast<std::int64_t>(std::floor(total * (budget_flops / flops)));
  const std::int64_t count =
      std::clamp<std::int64_t>(affordable, std::min(kMinSampleRows, total), total);
  if (count == total) return s;
  // The first `count` entries of a seeded permutation (partial Fisher-Yates).
  std::vector<std::int64_t> idx(static_cast<std::size_t>(total));
  for (std::int64_t i = 0; i < total; ++i) idx[i] = i;
  std::uint64_t state = seed;
  for (std::int64_t i = 0; i < count; ++i) {
    const auto j =
        i + static_cast<std::int64_t>(splitmix64(state) % static_cast<std::uint64_t>(total - i));
    std::swap(idx[i], idx[j]);
  }
  idx.resize(static_cast<std::size_t>(count));
  std::sort(idx.begin(), idx.end());
  s.axis = op.sample_axis;
  s.rows = std::move(idx);
  s.of = total;
  s.seed = seed;
  return s;
}

Params sampled_params(const Params& p, const Sample& s) {
  Params q = p;
  if (s.active()) q.set(s.axis, std::to_string(s.rows.size()));
  return q;
}

TensorMap gather_rows(const Op& op, const TensorMap& tensors, const Sample& s) {
  if (!s.active()) return tensors;
  TensorMap out;
  for (const auto& [name, t] : tensors) {
    const TensorDecl* decl = op.find_tensor(name);
    if (!decl || decl->dims.empty() || decl->dims.front() != s.axis || t.shape().empty()) {
      out[name] = t;
      continue;
    }
    Shape shape = t.shape();
    const std::size_t row_bytes = t.bytes() / static_cast<std::size_t>(shape.front());
    shape.front() = static_cast<std::int64_t>(s.rows.size());
    Tensor g(t.dtype(), shape);
    auto* dst = static_cast<char*>(g.raw());
    const auto* src = static_cast<const char*>(t.raw());
    for (std::size_t r = 0; r < s.rows.size(); ++r) {
      std::memcpy(dst + r * row_bytes, src + static_cast<std::size_t>(s.rows[r]) * row_bytes,
                  row_bytes);
    }
    out[name] = g;
  }
  return out;
}

}  // namespace opbench
