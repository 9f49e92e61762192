#include "datasets/distributions.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <queue>
#include <utility>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "harness/errors.hpp"

namespace opbench::datasets {

namespace {

constexpr const char* kKnownSpecs =
    "known: normal, uniform, llm_outliers, offset, constant_rows, "
    "or fixed normal(mean,std), uniform(lo,hi), constant(v), bernoulli(p)";

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

[[noreturn]] void malformed(std::string_view spec, const std::string& why) {
  throw UsageError("malformed distribution '" + std::string(spec) + "': " + why + " (" +
                   kKnownSpecs + ")");
}

double parse_number(std::string_view spec, std::string_view text) {
  const std::string s(trim(text));
  if (s.empty()) malformed(spec, "empty number");
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) malformed(spec, "'" + s + "' is not a number");
  if (!std::isfinite(v)) {
    malformed(spec, "'" + s + "' is not a finite number");
  }
  return v;
}

std::vector<double> parse_args(std::string_view spec, std::string_view inner) {
  std::vector<double> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = inner.find(',', start);
    out.push_back(parse_number(spec, inner.substr(start, comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// Storage formats: `from` rounds a double once; `to_double` is exact; `down`/`up` step to the
// neighbouring finite value.
template <class T>
struct Store {
  using type = T;
  static T from(double d) { return static_cast<T>(d); }
  static double to_double(T t) { return t; }
  static T down(T t) { return std::nextafter(t, -std::numeric_limits<T>::infinity()); }
  static T up(T t) { return std::nextafter(t, std::numeric_limits<T>::infinity()); }
};
// The 16-bit formats (harness/half.hpp), `H` the typed holder.
template <class H, H (*Round)(double)>
struct Store16 {
  using type = H;
  static H from(double d) { return Round(d); }
  static double to_double(H h) { return opbench::to_double(h); }
  static H down(H h) { return next_down(h); }
  static H up(H h) { return next_up(h); }
};
struct F16 {};
struct BF16 {};
// The inline roundings (bit arithmetic, tested against to_f16/to_bf16 around every 16-bit value):
// the same bits as the library's, without its scalbn calls on every generated element.
template <>
struct Store<F16> : Store16<f16_t, f16_from_double> {};
template <>
struct Store<BF16> : Store16<bf16_t, bf16_from_double> {};

// The distance between neighbouring values of a float dtype at the `offset` scenario's 1e4: it
// lies in [2^13, 2^14), where neighbours are 2^13 * 2u apart (u the unit roundoff).
double offset_spacing(DType t) {
  return std::ldexp(unit_roundoff(t), 14);
}

// The largest finite value of each storage format, to refuse parameters that do not fit.
double max_finite(DType t) {
  switch (t) {
    case DType::f32:
      return std::numeric_limits<float>::max();
    case DType::f64:
      return std::numeric_limits<double>::max();
    case DType::f16:
      return 65504.0;
    case DType::bf16:
      return std::ldexp(255.0 / 128.0, 127);
    case DType::i32:
      return std::numeric_limits<std::int32_t>::max();
    case DType::i64:
      return 9223372036854775807.0;
  }
  return 0;
}

// Stores f(i, row, col) into element i (row-major; col is the last-dimension index). Each thread
// walks one contiguous range and gets its own copy of f, so f may cache per-row state; which
// thread computes an element never changes its value.
template <class S, class F>
void parallel_fill(void* raw, std::int64_t n, std::int64_t cols, const F& f) {
  using T = typename Store<S>::type;
  T* p = static_cast<T*>(raw);
#pragma omp parallel
  {
    std::int64_t nt = 1, id = 0;
#ifdef _OPENMP
    nt = omp_get_num_threads();
    id = omp_get_thread_num();
#endif
    const std::int64_t base = n / nt, extra = n % nt;
    const std::int64_t begin = id * base + std::min(id, extra);
    const std::int64_t end = begin + base + (id < extra ? 1 : 0);
    F local = f;
    std::int64_t row = begin / cols, col = begin % cols;
    for (std::int64_t i = begin; i < end; ++i) {
      p[i] = Store<S>::from(local(i, row, col));
      if (++col == cols) {
        col = 0;
        ++row;
      }
    }
  }
}

// Per-thread caches of the last Philox block, so that the two elements sharing a block compute
// it once; the values are those of counter_normal / counter_uniform.
class NormalCursor {
 public:
  NormalCursor(std::uint64_t seed, Stream stream) : seed_(seed), stream_(stream) {}
  double operator()(std::int64_t index) {
    const std::uint64_t i = static_cast<std::uint64_t>(index);
    if ((i >> 1) != block_) {
      block_ = i >> 1;
      pair_ = counter_normal_pair(seed_, stream_, block_);
    }
    return (i & 1) ? pair_.odd : pair_.even;
  }

 private:
  std::uint64_t seed_;
  Stream stream_;
  std::uint64_t block_ = ~std::uint64_t{0};
  NormalPair pair_{0, 0};
};

class UniformCursor {
 public:
  UniformCursor(std::uint64_t seed, Stream stream) : seed_(seed), stream_(stream) {}
  double operator()(std::int64_t index) {
    const std::uint64_t i = static_cast<std::uint64_t>(index);
    if ((i >> 1) != block_) {
      block_ = i >> 1;
      bits_ = counter_bits(seed_, stream_, block_);
    }
    return bits_to_unit((i & 1) ? bits_.b : bits_.a);
  }

 private:
  std::uint64_t seed_;
  Stream stream_;
  std::uint64_t block_ = ~std::uint64_t{0};
  Bits128 bits_{0, 0};
};

std::int64_t last_dim(const Tensor& t) {
  return t.rank() == 0 ? 1 : t.dim(t.rank() - 1);
}

template <class S>
void fill_float(Tensor& t, const DistSpec& spec, std::uint64_t seed) {
  const std::int64_t n = t.numel();
  void* p = t.raw();
  const std::int64_t cols = last_dim(t);
  switch (spec.kind) {
    case DistKind::normal:
      parallel_fill<S>(p, n, cols,
                       [z = NormalCursor(seed, Stream::element)](
                           std::int64_t i, std::int64_t, std::int64_t) mutable { return z(i); });
      return;
    case DistKind::normal_fixed: {
      const double mean = spec.a, sd = spec.b;
      parallel_fill<S>(
          p, n, cols,
          [&, z = NormalCursor(seed, Stream::element)](
              std::int64_t i, std::int64_t, std::int64_t) mutable { return mean + sd * z(i); });
      return;
    }
    case DistKind::offset: {
      // A common offset of 1e4 over a spread of 1, or of the dtype's spacing at 1e4 where that is
      // larger (8 in float16, 64 in bfloat16): a unit spread rounds to the same value there, and
      // every row would be constant. The spread keeps rows that a 16-bit dtype can tell apart
      // while the offset still dwarfs it (1250x in f16, 156x in bf16), which is what breaks a
      // one-pass variance or statistics rounded to the storage dtype. float32's values are
      // those of the plain 1e4 + z.
      const double spread = std::max(1.0, offset_spacing(t.dtype()));
      parallel_fill<S>(
          p, n, cols,
          [z = NormalCursor(seed, Stream::element), spread](
              std::int64_t i, std::int64_t, std::int64_t) mutable { return 1e4 + spread * z(i); });
      return;
    }
    case DistKind::uniform:
    case DistKind::uniform_fixed: {
      const double lo = spec.kind == DistKind::uniform ? -1.0 : spec.a;
      const double hi = spec.kind == DistKind::uniform ? 1.0 : spec.b;
      // Rounding to the dtype may reach hi itself or fall below lo: clamp to the representable
      // values inside [lo, hi), so the interval stays half-open in every dtype.
      using St = Store<S>;
      auto top = St::from(hi);
      if (St::to_double(top) >= hi) top = St::down(top);
      auto bottom = St::from(lo);
      if (St::to_double(bottom) < lo) bottom = St::up(bottom);
      const double top_d = St::to_double(top), bottom_d = St::to_double(bottom);
      if (!(bottom_d <= top_d)) {
        throw UsageError("distribution uniform(" + fmt(lo) + "," + fmt(hi) + "): no " +
                         std::string(dtype_name(t.dtype())) + " value lies in [lo, hi)");
      }
      parallel_fill<S>(p, n, cols,
                       [&, uniform = UniformCursor(seed, Stream::element)](
                           std::int64_t i, std::int64_t, std::int64_t) mutable {
                         const double u = uniform(i);
                         return std::clamp(St::to_double(St::from(lo + (hi - lo) * u)), bottom_d,
                                           top_d);
                       });
      return;
    }
    case DistKind::llm_outliers: {
      const std::vector<OutlierColumn> outliers = outlier_columns(cols, seed);
      constexpr std::size_t kUnset = ~std::size_t{0};
      parallel_fill<S>(p, n, cols,
                       [&, next = kUnset, normal = NormalCursor(seed, Stream::element)](
                           std::int64_t i, std::int64_t, std::int64_t col) mutable {
                         // `next` is the first outlier column at or after `col` within this row.
                         if (next == kUnset || col == 0) {
                           next = static_cast<std::size_t>(
                               std::lower_bound(outliers.begin(), outliers.end(), col,
                                                [](const OutlierColumn& o, std::int64_t c) {
                                                  return o.col < c;
                                                }) -
                               outliers.begin());
                         }
                         const double z = normal(i);
                         if (next < outliers.size() && outliers[next].col == col)
                           return z * outliers[next++].scale;
                         return z;
                       });
      return;
    }
    case DistKind::constant_rows:
      parallel_fill<S>(p, n, cols,
                       [&, cached_row = std::int64_t{-1}, value = 0.0](
                           std::int64_t, std::int64_t row, std::int64_t) mutable {
                         if (row != cached_row) {
                           value =
                               counter_normal(seed, Stream::row, static_cast<std::uint64_t>(row));
                           cached_row = row;
                         }
                         return value;
                       });
      return;
    case DistKind::constant: {
      const double v = spec.a;
      parallel_fill<S>(p, n, cols, [&](std::int64_t, std::int64_t, std::int64_t) { return v; });
      return;
    }
    case DistKind::bernoulli: {
      const double prob = spec.a;
      parallel_fill<S>(p, n, cols,
                       [&, uniform = UniformCursor(seed, Stream::element)](
                           std::int64_t i, std::int64_t, std::int64_t) mutable {
                         return uniform(i) < prob ? 1.0 : 0.0;
                       });
      return;
    }
  }
}

template <class I>
void fill_integer(Tensor& t, const DistSpec& spec, std::string_view text) {
  if (spec.kind != DistKind::constant) {
    throw UsageError("distribution '" + std::string(text) + "' cannot fill an integer tensor (" +
                     std::string(dtype_name(t.dtype())) + "); integer tensors take constant(v)");
  }
  if (spec.a != std::floor(spec.a) || spec.a < static_cast<double>(std::numeric_limits<I>::min()) ||
      spec.a >= -static_cast<double>(std::numeric_limits<I>::min())) {
    throw UsageError("distribution '" + std::string(text) + "': value is not a " +
                     std::string(dtype_name(t.dtype())) + " integer");
  }
  const I v = static_cast<I>(spec.a);
  I* p = t.data<I>();
  const std::int64_t n = t.numel();
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) p[i] = v;
}

std::string spec_text(const DistSpec& s) {
  switch (s.kind) {
    case DistKind::normal:
      return "normal";
    case DistKind::uniform:
      return "uniform";
    case DistKind::llm_outliers:
      return "llm_outliers";
    case DistKind::offset:
      return "offset";
    case DistKind::constant_rows:
      return "constant_rows";
    case DistKind::normal_fixed:
      return "normal(" + fmt(s.a) + "," + fmt(s.b) + ")";
    case DistKind::uniform_fixed:
      return "uniform(" + fmt(s.a) + "," + fmt(s.b) + ")";
    case DistKind::constant:
      return "constant(" + fmt(s.a) + ")";
    case DistKind::bernoulli:
      return "bernoulli(" + fmt(s.a) + ")";
  }
  return "?";
}

void fill_parsed(Tensor& t, const DistSpec& spec, std::uint64_t seed, const std::string& text) {
  if (t.numel() == 0) return;
  if (t.raw() == nullptr) throw UsageError("cannot fill a tensor without storage");
  switch (t.dtype()) {
    case DType::f32:
      return fill_float<float>(t, spec, seed);
    case DType::f64:
      return fill_float<double>(t, spec, seed);
    case DType::f16:
      return fill_float<F16>(t, spec, seed);
    case DType::bf16:
      return fill_float<BF16>(t, spec, seed);
    case DType::i32:
      return fill_integer<std::int32_t>(t, spec, text);
    case DType::i64:
      return fill_integer<std::int64_t>(t, spec, text);
  }
}

}  // namespace

std::vector<std::string> distribution_names() {
  return {"normal", "uniform", "llm_outliers", "offset", "constant_rows"};
}

DistSpec parse_distribution(std::string_view spec_in) {
  const std::string_view spec = trim(spec_in);
  DistSpec out;
  if (spec == "normal") return {DistKind::normal, 0, 1};
  if (spec == "uniform") return {DistKind::uniform, -1, 1};
  if (spec == "llm_outliers") return {DistKind::llm_outliers, 0, 1};
  if (spec == "offset") return {DistKind::offset, 1e4, 1};
  if (spec == "constant_rows") return {DistKind::constant_rows, 0, 1};

  const std::size_t open = spec.find('(');
  if (open == std::string_view::npos) {
    throw UsageError("unknown distribution '" + std::string(spec_in) + "' (" + kKnownSpecs + ")");
  }
  const std::string_view name = trim(spec.substr(0, open));
  if (name != "normal" && name != "uniform" && name != "constant" && name != "bernoulli") {
    throw UsageError("unknown distribution '" + std::string(spec_in) + "' (" + kKnownSpecs + ")");
  }
  if (spec.back() != ')') malformed(spec_in, "missing ')' at the end");
  const std::string_view inner = spec.substr(open + 1, spec.size() - open - 2);
  if (inner.find_first_of("()") != std::string_view::npos) malformed(spec_in, "nested brackets");
  const std::vector<double> args = parse_args(spec_in, inner);
  if (name == "constant") {
    if (args.size() != 1) malformed(spec_in, "constant(v) takes 1 number");
    return {DistKind::constant, args[0], 0};
  }
  if (name == "bernoulli") {
    if (args.size() != 1) malformed(spec_in, "bernoulli(p) takes 1 number");
    if (!(args[0] >= 0 && args[0] <= 1)) malformed(spec_in, "p must be in [0, 1]");
    return {DistKind::bernoulli, args[0], 0};
  }
  if (args.size() != 2) {
    malformed(spec_in, name == "normal" ? "normal(mean,std) takes 2 numbers"
                                        : "uniform(lo,hi) takes 2 numbers");
  }
  if (name == "normal") {
    if (args[1] < 0) malformed(spec_in, "std must be >= 0");
    return {DistKind::normal_fixed, args[0], args[1]};
  }
  if (!(args[0] < args[1])) malformed(spec_in, "uniform(lo,hi) needs lo < hi");
  if (!std::isfinite(args[1] - args[0])) malformed(spec_in, "range hi - lo overflows a double");
  return {DistKind::uniform_fixed, args[0], args[1]};
}

std::vector<OutlierColumn> outlier_columns(std::int64_t cols, std::uint64_t seed) {
  if (cols <= 0) return {};
  const std::int64_t k = std::max<std::int64_t>(1, cols / 128);
  // The k columns with the smallest counter hash (ties by index): a seeded choice of exactly k.
  using Entry = std::pair<std::uint64_t, std::int64_t>;
  std::priority_queue<Entry> largest_on_top;
  for (std::int64_t c = 0; c < cols; ++c) {
    const Entry e{counter_bits(seed, Stream::outlier_pick, static_cast<std::uint64_t>(c)).a, c};
    if (static_cast<std::int64_t>(largest_on_top.size()) < k) {
      largest_on_top.push(e);
    } else if (e < largest_on_top.top()) {
      largest_on_top.pop();
      largest_on_top.push(e);
    }
  }
  std::vector<OutlierColumn> out;
  out.reserve(static_cast<std::size_t>(k));
  while (!largest_on_top.empty()) {
    const std::int64_t c = largest_on_top.top().second;
    largest_on_top.pop();
    out.push_back({c, 50.0 + 50.0 * counter_uniform(seed, Stream::outlier_scale,
                                                    static_cast<std::uint64_t>(c))});
  }
  std::sort(out.begin(), out.end(),
            [](const OutlierColumn& x, const OutlierColumn& y) { return x.col < y.col; });
  return out;
}

void fill_distribution(Tensor& t, std::string_view spec, std::uint64_t seed) {
  const DistSpec parsed = parse_distribution(spec);
  const std::string text(trim(spec));
  // Fixed parameters must fit the dtype: constant(1e39) has no f32 value.
  if (parsed.kind == DistKind::constant || parsed.kind == DistKind::normal_fixed ||
      parsed.kind == DistKind::uniform_fixed) {
    const double limit = max_finite(t.dtype());
    if (std::fabs(parsed.a) > limit || std::fabs(parsed.b) > limit) {
      throw UsageError("distribution '" + text + "': a parameter does not fit " +
                       std::string(dtype_name(t.dtype())) + " (largest finite " + fmt(limit) + ")");
    }
  }
  fill_parsed(t, parsed, seed, text);
}

void fill_distribution(Tensor& t, const DistSpec& spec, std::uint64_t seed) {
  fill_parsed(t, spec, seed, spec_text(spec));
}

}  // namespace opbench::datasets
