#pragma once
// Seeded, counter-based input generators.
//
// The value of element i of a tensor depends only on (spec, seed, i, shape): elements 2b and 2b+1
// are computed from Philox4x32-10 block b (Salmon et al., "Parallel Random Numbers: As Easy as
// 1, 2, 3", SC'11; the generator of cuRAND, Random123, JAX and PyTorch), keyed by the seed, with
// the block index and a stream id as the counter. There is no generator state, so any thread
// count — and a CUDA kernel that includes this header — produces the same values.
//
// Spec grammar (exact, lower case; spaces are allowed around numbers):
//   normal          mean 0, std 1 (Box-Muller, one Philox block per two elements)
//   uniform         in [-1, 1)
//   llm_outliers    normal, but max(1, cols/128) columns (last-dimension indices, chosen from the
//                   seed) are scaled by a factor in [50, 100), like LLM activation outlier channels
//   offset          1e4 + normal: a large common mean that breaks one-pass variance (the
//                   spread is the dtype's spacing at 1e4 where that exceeds 1: 8 in f16, 64 in
//                   bf16)
//   constant_rows   every row (a contiguous run of the last dimension) holds one normal value
//   normal(m,s)     mean m, std s >= 0
//   uniform(lo,hi)  in [lo, hi), lo < hi
//   constant(v)     every element v (also for i32/i64 when v is an integer)
//   bernoulli(p)    exactly 1 with probability p, else exactly 0 (gates that are exactly open or
//                   shut), 0 <= p <= 1
// Values are computed in double and rounded once (to nearest even) to the tensor's dtype: f32,
// f64, f16, bf16; i32/i64 take only constant(v). distributions.cpp is built with -ffp-contract=off
// so that mean + std * z is never fused; a CUDA port must do the same (--fmad=false or
// __dmul_rn/__dadd_rn).
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness/tensor.hpp"

// The generator's functions run on the host and, under nvcc, on the device. Its own name, not
// kernels/cuda/host_device.hpp's OPBENCH_HD (which also forces inlining): a file may include both.
#if defined(__CUDACC__)
#define OPBENCH_GEN_HD __host__ __device__
#else
#define OPBENCH_GEN_HD
#endif

namespace opbench::datasets {

// ---- the counter-based generator (header-only so that a CUDA kernel can share it) ----------

struct Philox4x32 {
  std::uint32_t v[4];
};

// Philox4x32-10 as in Random123: counter c[0..3], key k[0..1].
OPBENCH_GEN_HD inline Philox4x32 philox4x32_10(Philox4x32 c, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c.v[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c.v[2];
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32),
                        lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32),
                        lo1 = static_cast<std::uint32_t>(p1);
    c = Philox4x32{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
  }
  return c;
}

// Stream ids: independent sequences drawn from one seed.
enum class Stream : std::uint32_t {
  element = 0,        // per-element values (normal, uniform, offset, llm_outliers base)
  row = 1,            // one value per row (constant_rows)
  outlier_pick = 2,   // which columns are outliers
  outlier_scale = 3,  // each outlier column's scale
};

// Two 64-bit words from the block for (seed, stream, index).
struct Bits128 {
  std::uint64_t a, b;
};
OPBENCH_GEN_HD inline Bits128 counter_bits(std::uint64_t seed, Stream stream, std::uint64_t index) {
  const Philox4x32 r = philox4x32_10(
      Philox4x32{{static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32),
                  static_cast<std::uint32_t>(stream), 0u}},
      static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  return Bits128{r.v[0] | (static_cast<std::uint64_t>(r.v[1]) << 32),
                 r.v[2] | (static_cast<std::uint64_t>(r.v[3]) << 32)};
}

// Uniform double in [0, 1) from the top 53 bits (exact).
OPBENCH_GEN_HD inline double bits_to_unit(std::uint64_t x) {
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}
// Uniform double in (0, 1] (safe for log).
OPBENCH_GEN_HD inline double bits_to_unit_open0(std::uint64_t x) {
  return static_cast<double>((x >> 11) + 1) * 0x1.0p-53;
}

// One Philox block serves two consecutive indices: block b = index / 2 gives two uniforms
// (index even: the first word, odd: the second) or, through Box-Muller, two normals
// (even: r cos(theta), odd: r sin(theta)). Computed in double.
struct NormalPair {
  double even, odd;
};
// Box-Muller on block `block`: u1 in (0, 1] from the first word, u2 in [0, 1) from the second,
// r = sqrt(-2 ln u1), theta = 2 pi u2.
// Nothing here can be contracted into an FMA, so the CPU and a CUDA build compute the same
// operations; only the libm's log/cos/sin may differ in the last bit of the double.
OPBENCH_GEN_HD inline NormalPair counter_normal_pair(std::uint64_t seed, Stream stream,
                                                     std::uint64_t block) {
  const Bits128 r = counter_bits(seed, stream, block);
  const double u1 = bits_to_unit_open0(r.a);
  const double u2 = bits_to_unit(r.b);
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 6.283185307179586476925286766559 * u2;
  return {radius * std::cos(angle), radius * std::sin(angle)};
}
// Standard normal for (seed, stream, index).
OPBENCH_GEN_HD inline double counter_normal(std::uint64_t seed, Stream stream,
                                            std::uint64_t index) {
  const NormalPair p = counter_normal_pair(seed, stream, index >> 1);
  return (index & 1) ? p.odd : p.even;
}
// Uniform in [0, 1) for (seed, stream, index).
OPBENCH_GEN_HD inline double counter_uniform(std::uint64_t seed, Stream stream,
                                             std::uint64_t index) {
  const Bits128 r = counter_bits(seed, stream, index >> 1);
  return bits_to_unit((index & 1) ? r.b : r.a);
}

// ---- specs ---------------------------------------------------------------------------------

enum class DistKind {
  normal,
  uniform,
  llm_outliers,
  offset,
  constant_rows,
  normal_fixed,   // normal(mean, std)
  uniform_fixed,  // uniform(lo, hi)
  constant,       // constant(v)
  bernoulli,      // bernoulli(p): 1 with probability p, else 0
};

struct DistSpec {
  DistKind kind = DistKind::normal;
  double a = 0;  // mean / lo / value
  double b = 0;  // std / hi
};

// The five names a user picks through the `dist` axis.
std::vector<std::string> distribution_names();
// Parses a spec; throws UsageError naming the spec and listing the known forms.
DistSpec parse_distribution(std::string_view spec);

// The outlier columns llm_outliers picks for `cols` columns: sorted, max(1, cols/128) of them,
// each with its scale in [50, 100).
struct OutlierColumn {
  std::int64_t col;
  double scale;
};
std::vector<OutlierColumn> outlier_columns(std::int64_t cols, std::uint64_t seed);

// Fills `t` (f32 or f64; i32/i64 for constant(v)) in parallel with OpenMP.
// Throws UsageError for a bad spec or an unsupported dtype.
void fill_distribution(Tensor& t, std::string_view spec, std::uint64_t seed);
void fill_distribution(Tensor& t, const DistSpec& spec, std::uint64_t seed);

}  // namespace opbench::datasets
