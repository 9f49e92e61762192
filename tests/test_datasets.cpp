// Tests for datasets/: seeded generators, .npy files, checksums, and the DataProvider.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <limits>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "datasets/checksum.hpp"
#include "datasets/distributions.hpp"
#include "datasets/npy.hpp"
#include "datasets/provider.hpp"
#include "harness/errors.hpp"

namespace fs = std::filesystem;
using namespace opbench;
using namespace opbench::datasets;

namespace {

Tensor filled(DType dt, Shape shape, const std::string& spec, std::uint64_t seed) {
  Tensor t(dt, std::move(shape));
  fill_distribution(t, spec, seed);
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

struct Moments {
  double mean = 0, sd = 0, min = 0, max = 0;
};
Moments moments(const Tensor& t) {
  Moments m;
  const std::int64_t n = t.numel();
  m.min = std::numeric_limits<double>::infinity();
  m.max = -m.min;
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = t.value_as_double(i);
    m.mean += v;
    m.min = std::min(m.min, v);
    m.max = std::max(m.max, v);
  }
  m.mean /= static_cast<double>(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = t.value_as_double(i) - m.mean;
    m.sd += d * d;
  }
  m.sd = std::sqrt(m.sd / static_cast<double>(n));
  return m;
}

// Restores the OpenMP thread count a test changed.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(omp_get_max_threads()) {}
  ~ThreadCountGuard() { omp_set_num_threads(saved_); }

 private:
  int saved_;
};

// A fresh folder per test, removed afterwards.
class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("opbench_test_datasets_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write_bytes(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  }
  std::vector<std::string> listing() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
};

// A version 1.0 .npy preamble built by hand: magic, version, little-endian length, the dict padded
// with spaces and a newline to `align` bytes, exactly as numpy's format.py writes it.
std::string hand_npy_v1(const std::string& dict, std::size_t align = 64) {
  std::size_t total = 10 + dict.size() + 1;
  const std::size_t padded = (total + align - 1) / align * align;
  const std::string header = dict + std::string(padded - total, ' ') + "\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xFF));
  out.push_back(static_cast<char>(header.size() >> 8));
  return out + header;
}
std::string hand_npy_v2(const std::string& dict) {
  std::size_t total = 12 + dict.size() + 1;
  const std::size_t padded = (total + 63) / 64 * 64;
  const std::string header = dict + std::string(padded - total, ' ') + "\n";
  std::string out("\x93NUMPY\x02\x00", 8);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xFF));
  return out + header;
}
template <class T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Expects a UsageError of one line whose message contains every one of `needles`.
template <class F>
void expect_usage_error(F&& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "expected a UsageError";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& n : needles)
      EXPECT_NE(msg.find(n), std::string::npos) << msg << "\nlacks: " << n;
  }
}

const std::vector<std::string> kAllSpecs = {"normal",          "uniform",       "llm_outliers",
                                            "offset",          "constant_rows", "normal(2,0.5)",
                                            "uniform(0.5,1.5)"};

}  // namespace

// ---- the generator -------------------------------------------------------------------------

TEST(Philox, MatchesRandom123KnownAnswers) {
  // Random123's kat_vectors: counter (4 words), key (2 words), expected output (4 words).
  struct Kat {
    std::uint32_t ctr[4], key[2], want[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    const Philox4x32 out =
        philox4x32_10(Philox4x32{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}}, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out.v[i], k.want[i]) << "word " << i;
  }
}

TEST(Distributions, NamesAreTheUserFacingFive) {
  EXPECT_EQ(distribution_names(), (std::vector<std::string>{"normal", "uniform", "llm_outliers",
                                                            "offset", "constant_rows"}));
}

TEST(Distributions, IdenticalForOneAndTwoThreads) {
  ThreadCountGuard guard;
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    for (const auto& spec : kAllSpecs) {
      omp_set_num_threads(1);
      const Tensor one = filled(dt, {257, 301}, spec, 42);
      omp_set_num_threads(2);
      const Tensor two = filled(dt, {257, 301}, spec, 42);
      omp_set_num_threads(3);
      const Tensor three = filled(dt, {257, 301}, spec, 42);
      EXPECT_TRUE(same_bytes(one, two)) << spec << " " << dtype_name(dt);
      EXPECT_TRUE(same_bytes(one, three)) << spec << " " << dtype_name(dt);
    }
  }
}

TEST(Distributions, ElementDependsOnlyOnSeedAndIndex) {
  // A longer tensor starts with the shorter one (for the specs that do not depend on the shape),
  // and element i is the counter-based value for index i.
  for (const std::string spec : {"normal", "uniform", "offset", "normal(1,3)"}) {
    const Tensor small = filled(DType::f64, {100}, spec, 9);
    const Tensor big = filled(DType::f64, {10, 37}, spec, 9);
    EXPECT_EQ(std::memcmp(small.raw(), big.raw(), small.bytes()), 0) << spec;
  }
  const Tensor n = filled(DType::f64, {64}, "normal", 123);
  for (std::int64_t i = 0; i < 64; ++i) {
    EXPECT_EQ(n.data<double>()[i], counter_normal(123, Stream::element, std::uint64_t(i)));
  }
  // The f32 tensor is the f64 tensor rounded once.
  const Tensor f = filled(DType::f32, {64}, "normal", 123);
  for (std::int64_t i = 0; i < 64; ++i) {
    EXPECT_EQ(f.data<float>()[i], static_cast<float>(n.data<double>()[i]));
  }
}

TEST(Distributions, DifferentSeedsDiffer) {
  for (const auto& spec : kAllSpecs) {
    const Tensor a = filled(DType::f32, {64, 256}, spec, 1);
    const Tensor b = filled(DType::f32, {64, 256}, spec, 2);
    const Tensor c = filled(DType::f32, {64, 256}, spec, 1ull << 40);  // the high key word
    EXPECT_FALSE(same_bytes(a, b)) << spec;
    EXPECT_FALSE(same_bytes(a, c)) << spec;
  }
}

TEST(Distributions, NormalStatistics) {
  for (DType dt : {DType::f32, DType::f64}) {
    const Moments m = moments(filled(dt, {1000, 1000}, "normal", 7));
    // Standard error of the mean is 0.001; of the std about 0.0007.
    EXPECT_NEAR(m.mean, 0.0, 0.005) << dtype_name(dt);
    EXPECT_NEAR(m.sd, 1.0, 0.005) << dtype_name(dt);
    EXPECT_LT(m.min, -4.0);
    EXPECT_GT(m.max, 4.0);
  }
  const Moments h = moments(filled(DType::f16, {1000, 1000}, "normal", 7));
  EXPECT_NEAR(h.mean, 0.0, 0.005);
  EXPECT_NEAR(h.sd, 1.0, 0.005);
}

TEST(Distributions, UniformBoundsAndMean) {
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    const Moments m = moments(filled(dt, {1000000}, "uniform", 3));
    EXPECT_GE(m.min, -1.0) << dtype_name(dt);
    EXPECT_LT(m.max, 1.0) << dtype_name(dt);
    EXPECT_LT(m.min, -0.99) << dtype_name(dt);
    EXPECT_GT(m.max, 0.99) << dtype_name(dt);
    EXPECT_NEAR(m.mean, 0.0, 0.005) << dtype_name(dt);
    EXPECT_NEAR(m.sd, 1.0 / std::sqrt(3.0), 0.005) << dtype_name(dt);
  }
  // Rounding to f16 would reach hi = 1 for about 1 in 4096 draws: the interval stays half-open.
  for (DType dt : {DType::f16, DType::bf16}) {
    const Moments m = moments(filled(dt, {1000000}, "uniform(0,1)", 3));
    EXPECT_GE(m.min, 0.0);
    EXPECT_LT(m.max, 1.0);
  }
  const Moments f = moments(filled(DType::f64, {100000}, "uniform(0.5,1.5)", 3));
  EXPECT_GE(f.min, 0.5);
  EXPECT_LT(f.max, 1.5);
  EXPECT_NEAR(f.mean, 1.0, 0.01);
}

TEST(Distributions, OffsetHasLargeMeanAndUnitSpread) {
  for (DType dt : {DType::f32, DType::f64}) {
    const Moments m = moments(filled(dt, {1000, 1000}, "offset", 11));
    EXPECT_NEAR(m.mean, 1e4, 0.01) << dtype_name(dt);
    EXPECT_NEAR(m.sd, 1.0, 0.01) << dtype_name(dt);
  }
  // In 16-bit dtypes a unit spread at 1e4 would round to one value (every row constant): the
  // spread is the dtype's spacing there, 8 in f16 and 64 in bf16, and rows keep a variance.
  for (auto [dt, spread] : {std::pair{DType::f16, 8.0}, std::pair{DType::bf16, 64.0}}) {
    const Tensor t = filled(dt, {1000, 1000}, "offset", 11);
    const Moments m = moments(t);
    EXPECT_NEAR(m.mean, 1e4, 0.05 * spread) << dtype_name(dt);
    EXPECT_NEAR(m.sd, spread, 0.1 * spread) << dtype_name(dt);
    int constant_rows = 0;
    for (std::int64_t r = 0; r < 1000; ++r) {
      bool same = true;
      for (std::int64_t c = 1; c < 1000 && same; ++c) {
        same = t.value_as_double(r * 1000 + c) == t.value_as_double(r * 1000);
      }
      constant_rows += same;
    }
    EXPECT_EQ(constant_rows, 0) << dtype_name(dt);
  }
}

TEST(Distributions, LlmOutliersScaleAFewColumns) {
  const std::int64_t rows = 2000, cols = 512;
  for (std::uint64_t seed : {5ull, 6ull}) {
    const Tensor t = filled(DType::f32, {rows, cols}, "llm_outliers", seed);
    const std::vector<OutlierColumn> picked = outlier_columns(cols, seed);
    ASSERT_EQ(picked.size(), 4u);  // 512 / 128
    std::set<std::int64_t> outlier_cols;
    for (const auto& o : picked) {
      EXPECT_GE(o.scale, 50.0);
      EXPECT_LT(o.scale, 100.0);
      outlier_cols.insert(o.col);
    }
    int big = 0;
    for (std::int64_t c = 0; c < cols; ++c) {
      double s = 0, s2 = 0;
      for (std::int64_t r = 0; r < rows; ++r) {
        const double v = t.data<float>()[r * cols + c];
        s += v;
        s2 += v * v;
      }
      const double mean = s / rows, sd = std::sqrt(s2 / rows - mean * mean);
      if (outlier_cols.count(c)) {
        ++big;
        EXPECT_GT(sd, 45.0) << "column " << c;
        EXPECT_LT(sd, 110.0) << "column " << c;
      } else {
        EXPECT_NEAR(sd, 1.0, 0.1) << "column " << c;
      }
    }
    EXPECT_EQ(big, 4);
  }
  const auto cols_of = [](std::uint64_t seed) {
    std::vector<std::int64_t> out;
    for (const auto& o : outlier_columns(4096, seed)) out.push_back(o.col);
    return out;
  };
  EXPECT_EQ(cols_of(5), cols_of(5));
  EXPECT_NE(cols_of(5), cols_of(6));  // the seed picks the columns
  // At least one outlier column, also for narrow tensors and vectors.
  EXPECT_EQ(outlier_columns(64, 1).size(), 1u);
  EXPECT_EQ(outlier_columns(1, 1).size(), 1u);
  EXPECT_EQ(outlier_columns(4096, 1).size(), 32u);
  const Moments narrow = moments(filled(DType::f64, {3000, 8}, "llm_outliers", 1));
  EXPECT_GT(narrow.sd, 10.0);
}

TEST(Distributions, ConstantRowsHoldOneValuePerRow) {
  const Tensor t = filled(DType::f32, {4, 5, 33}, "constant_rows", 8);
  std::set<float> row_values;
  for (std::int64_t r = 0; r < 20; ++r) {
    const float first = t.data<float>()[r * 33];
    row_values.insert(first);
    for (std::int64_t c = 1; c < 33; ++c) ASSERT_EQ(t.data<float>()[r * 33 + c], first);
  }
  EXPECT_EQ(row_values.size(), 20u);  // rows differ
  const Moments m = moments(filled(DType::f64, {100000, 2}, "constant_rows", 8));
  EXPECT_NEAR(m.mean, 0.0, 0.02);
  EXPECT_NEAR(m.sd, 1.0, 0.02);
}

TEST(Distributions, FixedSpecsParseAndFill) {
  const DistSpec n = parse_distribution("normal(3,0.5)");
  EXPECT_EQ(n.kind, DistKind::normal_fixed);
  EXPECT_EQ(n.a, 3.0);
  EXPECT_EQ(n.b, 0.5);
  const DistSpec u = parse_distribution(" uniform( -2 , 3e0 ) ");
  EXPECT_EQ(u.kind, DistKind::uniform_fixed);
  EXPECT_EQ(u.a, -2.0);
  EXPECT_EQ(u.b, 3.0);
  const DistSpec c = parse_distribution("constant(-1.25)");
  EXPECT_EQ(c.kind, DistKind::constant);
  EXPECT_EQ(c.a, -1.25);

  const Moments m = moments(filled(DType::f64, {1000000}, "normal(3,0.5)", 4));
  EXPECT_NEAR(m.mean, 3.0, 0.005);
  EXPECT_NEAR(m.sd, 0.5, 0.005);
  const Tensor k = filled(DType::f32, {3, 7}, "constant(2.5)", 4);
  for (std::int64_t i = 0; i < k.numel(); ++i) EXPECT_EQ(k.data<float>()[i], 2.5f);
  const Tensor zero_sd = filled(DType::f64, {10}, "normal(1,0)", 4);
  for (std::int64_t i = 0; i < 10; ++i) EXPECT_EQ(zero_sd.data<double>()[i], 1.0);

  // Integer tensors take constant(v) with an integer v.
  const Tensor i64 = filled(DType::i64, {5}, "constant(-7)", 0);
  for (std::int64_t i = 0; i < 5; ++i) EXPECT_EQ(i64.data<std::int64_t>()[i], -7);
  const Tensor i32 = filled(DType::i32, {5}, "constant(12)", 0);
  for (std::int64_t i = 0; i < 5; ++i) EXPECT_EQ(i32.data<std::int32_t>()[i], 12);
  expect_usage_error([] { filled(DType::i32, {5}, "constant(1.5)", 0); }, {"constant(1.5)"});
  expect_usage_error([] { filled(DType::i32, {5}, "constant(3e9)", 0); }, {"i32"});
  expect_usage_error([] { filled(DType::i64, {5}, "normal", 0); }, {"normal", "i64"});
  expect_usage_error([] { filled(DType::f32, {5}, "constant(1e39)", 0); }, {"f32"});
  expect_usage_error([] { filled(DType::f16, {5}, "uniform(0,70000)", 0); }, {"f16"});
}

TEST(Distributions, MalformedAndUnknownSpecsThrow) {
  for (const std::string bad : {"",
                                "gauss",
                                "Normal",
                                "normal(",
                                "normal)",
                                "normal()",
                                "normal(1)",
                                "normal(1,2,3)",
                                "normal(0,-1)",
                                "uniform(2,1)",
                                "uniform(1,1)",
                                "constant()",
                                "constant(abc)",
                                "constant(nan)",
                                "constant(inf)",
                                "constant(1,2)",
                                "normal(1,2)x",
                                "normal((1,2))",
                                "llm_outliers(3)",
                                "uniform(-1e308,1e308)"}) {
    expect_usage_error([&] { parse_distribution(bad); }, {"'" + bad + "'", "llm_outliers"});
    Tensor t(DType::f32, {4});
    EXPECT_THROW(fill_distribution(t, bad, 0), UsageError) << bad;
  }
}

TEST(Distributions, SixteenBitRoundingIsCorrect) {
  const auto bits = [](DType dt, const std::string& v) {
    const Tensor t = filled(dt, {1}, "constant(" + v + ")", 0);
    return dt == DType::f16 ? t.data<f16_t>()[0].bits : t.data<bf16_t>()[0].bits;
  };
  EXPECT_EQ(bits(DType::f16, "1"), 0x3C00);
  EXPECT_EQ(bits(DType::f16, "-2"), 0xC000);
  EXPECT_EQ(bits(DType::f16, "0.1"), 0x2E66);
  EXPECT_EQ(bits(DType::f16, "65504"), 0x7BFF);
  EXPECT_EQ(bits(DType::f16, "5.9604644775390625e-08"), 0x0001);  // smallest subnormal
  EXPECT_EQ(bits(DType::f16, "6.097555160522461e-05"), 0x03FF);   // largest subnormal
  EXPECT_EQ(bits(DType::f16, "1.00048828125"), 0x3C00);           // tie 1 + 2^-11: to even
  EXPECT_EQ(bits(DType::f16, "1.00146484375"), 0x3C02);           // tie 1 + 3*2^-11: to even
  EXPECT_EQ(bits(DType::f16, "0"), 0x0000);
  EXPECT_EQ(bits(DType::bf16, "1"), 0x3F80);
  EXPECT_EQ(bits(DType::bf16, "3.14159265"), 0x4049);
  EXPECT_EQ(bits(DType::bf16, "-0.5"), 0xBF00);
  // Every f16 value from the generator is the nearest one to the f64 value.
  const Tensor d = filled(DType::f64, {20000}, "normal", 17);
  const Tensor h = filled(DType::f16, {20000}, "normal", 17);
  for (std::int64_t i = 0; i < d.numel(); ++i) {
    const double x = d.data<double>()[i], r = h.value_as_double(i);
    int e = 0;
    std::frexp(x, &e);
    const double half_ulp = std::ldexp(1.0, std::max(e - 1, -14) - 11);
    ASSERT_LE(std::fabs(x - r), half_ulp) << x;
  }
}

TEST(Distributions, ScalarsAndEmptyTensors) {
  Tensor s(DType::f32, {});
  fill_distribution(s, "normal", 1);
  EXPECT_EQ(s.data<float>()[0], static_cast<float>(counter_normal(1, Stream::element, 0)));
  Tensor e(DType::f32, {0, 5});
  EXPECT_NO_THROW(fill_distribution(e, "llm_outliers", 1));
  Tensor none;
  EXPECT_NO_THROW(fill_distribution(none, "normal", 1));
}

// ---- .npy ----------------------------------------------------------------------------------

using Npy = TempDir;

TEST_F(Npy, RoundTripsEveryDtypeAndShape) {
  const std::vector<Shape> shapes = {{}, {5}, {3, 4}, {2, 3, 5}, {0, 3}};
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::i32, DType::i64}) {
    for (const Shape& shape : shapes) {
      Tensor t(dt, shape);
      if (dt == DType::i64) {
        for (std::int64_t i = 0; i < t.numel(); ++i) t.data<std::int64_t>()[i] = (i - 3) << 33;
      } else if (dt == DType::i32) {
        for (std::int64_t i = 0; i < t.numel(); ++i) t.data<std::int32_t>()[i] = -7 * int(i);
      } else {
        fill_distribution(t, "normal", 99);
      }
      const std::string p = path(std::string(dtype_name(dt)) + "_" + std::to_string(shape.size()) +
                                 (shape.empty() || shape[0] ? "" : "_empty") + ".npy");
      write_npy(t, p);
      const NpyHeader h = read_npy_header(p);
      EXPECT_EQ(h.dtype, dt);
      EXPECT_EQ(h.shape, shape);
      const Tensor back = read_npy(p);
      EXPECT_TRUE(same_bytes(t, back)) << p;
      // The data starts at a multiple of 64 bytes and nothing follows it.
      EXPECT_EQ((fs::file_size(p) - t.bytes()) % 64, 0u) << p;
      EXPECT_EQ(fs::file_size(p), npy_preamble(dt, shape).size() + t.bytes());
    }
  }
  EXPECT_EQ(listing().size(), 25u);  // no temporary files left behind
}

TEST_F(Npy, WritesExactlyNumpysHeader) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
  EXPECT_EQ(npy_preamble(DType::f32, {3, 4}), hand_npy_v1(dict));
  EXPECT_EQ(npy_preamble(DType::f64, {5}),
            hand_npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }"));
  EXPECT_EQ(npy_preamble(DType::i64, {}),
            hand_npy_v1("{'descr': '<i8', 'fortran_order': False, 'shape': (), }"));
  EXPECT_EQ(npy_preamble(DType::f32, {3, 4}).size(), 128u);
  expect_usage_error([] { npy_preamble(DType::bf16, {2}); }, {"bf16"});
}

TEST_F(Npy, ReadsHandBuiltFiles) {
  // Version 1.0, numpy's own layout.
  const std::vector<double> d = {1.5, -2.25, 3.0, 0.0, 1e300, -1e-300};
  write_bytes("v1.npy", hand_npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }") +
                            raw_bytes(d));
  Tensor t = read_npy(path("v1.npy"));
  ASSERT_EQ(t.dtype(), DType::f64);
  ASSERT_EQ(t.shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data<double>()[i], d[std::size_t(i)]);

  // Version 2.0, keys in another order, double quotes, no trailing comma, 16-byte alignment of
  // old numpy versions, Python 2 long suffix.
  const std::vector<std::int32_t> ints = {7, -8, 9, 2147483647};
  write_bytes("v2.npy",
              hand_npy_v2("{\"shape\": (4L,), \"fortran_order\": False, \"descr\": \"<i4\"}") +
                  raw_bytes(ints));
  t = read_npy(path("v2.npy"));
  ASSERT_EQ(t.dtype(), DType::i32);
  ASSERT_EQ(t.shape(), (Shape{4}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(t.data<std::int32_t>()[i], ints[std::size_t(i)]);

  const std::vector<float> f = {0.5f, 0.25f};
  write_bytes("align16.npy",
              hand_npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", 16) +
                  raw_bytes(f));
  t = read_npy(path("align16.npy"));
  EXPECT_EQ(t.shape(), (Shape{1, 2}));
  EXPECT_EQ(t.data<float>()[1], 0.25f);

  // A Fortran-order vector has the C layout: accepted.
  write_bytes("fvec.npy", hand_npy_v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }") +
                              raw_bytes(f));
  EXPECT_EQ(read_npy(path("fvec.npy")).numel(), 2);

  // read_npy_header reads only the header: no data is needed.
  write_bytes("header_only.npy",
              hand_npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000), }"));
  const NpyHeader h = read_npy_header(path("header_only.npy"));
  EXPECT_EQ(h.shape, (Shape{1000, 1000}));
  expect_usage_error([&] { read_npy(path("header_only.npy")); },
                     {path("header_only.npy"), "truncated data", "4000000"});
}

TEST_F(Npy, BadFilesAreUsageErrorsNamingTheFile) {
  const std::string good_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
  const std::string data(48, '\0');
  struct Case {
    std::string name, bytes, needle;
  };
  const std::vector<Case> cases = {
      {"empty.npy", "", "magic"},
      {"zip.npy", std::string("PK\x03\x04", 4) + std::string(200, 'x'), "magic"},
      {"short_preamble.npy", std::string("\x93NUMPY\x01", 7), "truncated header"},
      {"short_header.npy", hand_npy_v1(good_dict).substr(0, 40), "truncated header"},
      {"short_data.npy", hand_npy_v1(good_dict) + data.substr(0, 20), "truncated data"},
      {"big_endian.npy",
       hand_npy_v1("{'descr': '>f4', 'fortran_order': False, 'shape': (3, 4), }") + data,
       "big-endian"},
      {"bool.npy",
       hand_npy_v1("{'descr': '|b1', 'fortran_order': False, 'shape': (3, 4), }") + data, "'|b1'"},
      {"fortran.npy",
       hand_npy_v1("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }") + data,
       "fortran_order"},
      {"version.npy", std::string("\x93NUMPY\x04\x00", 8) + hand_npy_v1(good_dict).substr(8) + data,
       "version 4.0"},
      {"negative.npy",
       hand_npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -4), }") + data,
       "malformed header"},
      {"no_shape.npy", hand_npy_v1("{'descr': '<f4', 'fortran_order': False, }") + data, "'shape'"},
      {"structured.npy",
       hand_npy_v1("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }") + data,
       "structured"},
      {"garbage.npy", hand_npy_v1("not a dict at all") + data, "malformed header"},
      {"huge.npy",
       hand_npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
       "overflows"},
  };
  for (const Case& c : cases) {
    write_bytes(c.name, c.bytes);
    expect_usage_error([&] { read_npy(path(c.name)); }, {path(c.name), c.needle});
    if (c.needle != "truncated data") {
      expect_usage_error([&] { read_npy_header(path(c.name)); }, {path(c.name), c.needle});
    }
  }
  expect_usage_error([&] { read_npy(path("missing.npy")); }, {path("missing.npy"), "no such file"});
  expect_usage_error([&] { read_npy_header(dir_.string()); }, {"directory"});
}

// A header that disagrees with itself or with the file is refused, never read shifted or
// truncated: numpy's format fixes the length field, one dict with each key once, a newline at the
// end of the header, and the data to the last byte of the file.
TEST_F(Npy, HeadersThatLieAreRefused) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
  const std::string data = raw_bytes(std::vector<float>(12, 1.5f));
  const std::string good = hand_npy_v1(dict) + data;
  write_bytes("good.npy", good);
  ASSERT_EQ(read_npy(path("good.npy")).shape(), (Shape{3, 4}));

  // The v1 length field one byte short: the header's newline would be read as data.
  std::string short_len = good;
  short_len[8] = static_cast<char>(static_cast<unsigned char>(short_len[8]) - 1);
  // A version 2.0 file whose length says 100 (its header is 116 bytes): data 16 bytes early.
  std::string v2_len = hand_npy_v2(dict) + data;
  ASSERT_EQ(static_cast<unsigned char>(v2_len[8]), 116u);
  v2_len[8] = 100;
  const std::string dup_dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'shape': (12,), }";
  struct Case {
    std::string name, bytes, needle;
  };
  const std::vector<Case> cases = {
      {"short_len.npy", short_len, "does not end with a newline"},
      {"long_len.npy",
       [&] {
         std::string b = good;
         b[8] = static_cast<char>(static_cast<unsigned char>(b[8]) + 1);
         return b;
       }(),
       "does not end with a newline"},
      {"v2_len100.npy", v2_len, "does not end with a newline"},
      {"dup_shape.npy", hand_npy_v1(dup_dict) + data, "'shape' appears twice"},
      {"dup_descr.npy",
       hand_npy_v1("{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }") +
           data,
       "'descr' appears twice"},
      {"trailing.npy", good + "x", "1 bytes after the data"},
      {"too_much.npy",
       hand_npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }") + data,
       "16 bytes after the data"},
      {"not_tuple.npy",
       hand_npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (12), }") + data,
       "not a tuple"},
      {"minor.npy", std::string("\x93NUMPY\x01\x05", 8) + good.substr(8), "version 1.5"},
      {"ctrl_key.npy",
       hand_npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'a\nb': 1}") + data,
       "'a\\x0ab'"},
  };
  for (const Case& c : cases) {
    write_bytes(c.name, c.bytes);
    expect_usage_error([&] { read_npy(path(c.name)); }, {path(c.name), c.needle});
    expect_usage_error([&] { decode_npy(c.bytes, c.name); }, {c.name, c.needle});
  }
  // A header alone is still enough to plan with; its data is checked when it is read.
  EXPECT_EQ(read_npy_header(path("trailing.npy")).shape, (Shape{3, 4}));
}

TEST_F(Npy, DecodesBytesAsItReadsFiles) {
  const Tensor a = filled(DType::f64, {2, 3, 5}, "normal", 4);
  write_npy(a, path("a.npy"));
  std::ifstream in(path("a.npy"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(same_bytes(decode_npy(bytes, "a.npy"), a));
  const Tensor empty = decode_npy(npy_preamble(DType::i32, {0, 7}), "empty");
  EXPECT_EQ(empty.dtype(), DType::i32);
  EXPECT_EQ(empty.shape(), (Shape{0, 7}));
  expect_usage_error([&] { decode_npy(bytes.substr(0, bytes.size() - 1), "cut.npy"); },
                     {"cut.npy", "truncated data"});
}

// A FIFO (or a device) given as a .npy file is refused at once: opening a FIFO for reading
// would wait for a writer forever, and its bytes could not be read twice (plan, then data).
TEST_F(Npy, FifoAndDevicesAreRefusedWithoutBlocking) {
  const std::string fifo = path("pipe.npy");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (int header_only = 0; header_only < 2; ++header_only) {
    auto read = std::async(std::launch::async, [&] {
      try {
        header_only ? (void)read_npy_header(fifo) : (void)read_npy(fifo);
        return std::string("no error");
      } catch (const UsageError& e) {
        return std::string(e.what());
      }
    });
    if (read.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      // Blocked in open: give it a writer that closes at once, so the test ends.
      int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (w >= 0) ::close(w);
      ADD_FAILURE() << "reading a FIFO blocked";
    }
    const std::string what = read.get();
    EXPECT_NE(what.find("FIFO"), std::string::npos) << what;
    EXPECT_NE(what.find(fifo), std::string::npos) << what;
  }
  expect_usage_error([] { read_npy("/dev/null"); }, {"/dev/null", "not a regular file"});
}

TEST_F(Npy, WritesAreAtomic) {
  const Tensor a = filled(DType::f32, {3, 4}, "normal", 1);
  const Tensor b = filled(DType::f32, {6}, "uniform", 2);
  const std::string p = path("x.npy");
  write_npy(a, p);
  write_npy(b, p);  // replaces
  EXPECT_TRUE(same_bytes(read_npy(p), b));
  EXPECT_EQ(listing(), std::vector<std::string>{"x.npy"});

  // A tensor that cannot be written leaves the earlier file untouched.
  Tensor bf(DType::bf16, {2});
  expect_usage_error([&] { write_npy(bf, p); }, {"bf16"});
  EXPECT_TRUE(same_bytes(read_npy(p), b));

  // A missing folder, or a path that is a folder: an error, and no file or temp file appears.
  expect_usage_error([&] { write_npy(a, path("nowhere/x.npy")); }, {path("nowhere/x.npy")});
  fs::create_directory(path("sub"));
  expect_usage_error([&] { write_npy(a, path("sub")); }, {path("sub"), "cannot write"});
  EXPECT_EQ(listing(), (std::vector<std::string>{"sub", "x.npy"}));
  EXPECT_TRUE(fs::is_empty(path("sub")));
}

// The first Python interpreter that has numpy: $OPBENCH_PYTHON, python3 on PATH, or the system
// one (Debian's python3-numpy installs for /usr/bin/python3, which a pyenv shim may hide).
std::string python_with_numpy() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("OPBENCH_PYTHON")) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  for (const auto& py : candidates) {
    if (std::system((py + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return py;
  }
  return "";
}

TEST_F(Npy, InteroperatesWithNumpy) {
  const std::string python = python_with_numpy();
  if (python.empty()) {
    GTEST_SKIP() << "no python3 with numpy found (tried $OPBENCH_PYTHON, python3, "
                    "/usr/bin/python3; Debian: python3-numpy); the hand-built header tests "
                    "cover the format";
  }
  // numpy writes, we read.
  const std::string script = path("make.py");
  std::ofstream(script)
      << "import numpy as np, sys\n"
         "d = sys.argv[1]\n"
         "np.save(d + '/f32.npy', np.arange(12, dtype='<f4').reshape(3, 4) / 8)\n"
         "np.save(d + '/f64.npy', np.array(2.5))\n"
         "np.save(d + '/i64.npy', np.arange(30, dtype='<i8').reshape(2,3,5) - 7)\n"
         "np.save(d + '/f16.npy', np.array([1, -2, 0.5], dtype='<f2'))\n"
         "np.save(d + '/i32.npy', np.array([1, 2, 3, 4, 5], dtype='<i4'))\n"
         "np.save(d + '/ford.npy', np.asfortranarray(np.ones((2, 3), 'f4')))\n"
         "np.save(d + '/be.npy', np.ones(3, '>f4'))\n";
  ASSERT_EQ(std::system((python + " " + script + " " + dir_.string()).c_str()), 0);
  Tensor t = read_npy(path("f32.npy"));
  ASSERT_EQ(t.shape(), (Shape{3, 4}));
  for (int i = 0; i < 12; ++i) EXPECT_EQ(t.data<float>()[i], float(i) / 8);
  t = read_npy(path("f64.npy"));
  ASSERT_EQ(t.shape(), Shape{});
  EXPECT_EQ(t.data<double>()[0], 2.5);
  t = read_npy(path("i64.npy"));
  ASSERT_EQ(t.shape(), (Shape{2, 3, 5}));
  for (int i = 0; i < 30; ++i) EXPECT_EQ(t.data<std::int64_t>()[i], i - 7);
  t = read_npy(path("f16.npy"));
  EXPECT_EQ(t.value_as_double(1), -2.0);
  t = read_npy(path("i32.npy"));
  EXPECT_EQ(t.shape(), Shape{5});
  EXPECT_THROW(read_npy(path("ford.npy")), UsageError);
  EXPECT_THROW(read_npy(path("be.npy")), UsageError);

  // We write, numpy reads and checks.
  const Tensor a = filled(DType::f32, {2, 3, 5}, "normal", 5);
  const Tensor s = filled(DType::f64, {}, "constant(4.25)", 0);
  Tensor v(DType::i64, {5});
  for (int i = 0; i < 5; ++i) v.data<std::int64_t>()[i] = std::int64_t(i) << 40;
  write_npy(a, path("ours_f32.npy"));
  write_npy(s, path("ours_scalar.npy"));
  write_npy(v, path("ours_i64.npy"));
  std::string expect_values = "[";
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g,", double(a.data<float>()[i]));
    expect_values += buf;
  }
  expect_values += "]";
  const std::string check = path("check.py");
  std::ofstream(check) << "import numpy as np, sys\n"
                          "d = sys.argv[1]\n"
                          "a = np.load(d + '/ours_f32.npy')\n"
                          "assert a.dtype == np.float32 and a.shape == (2, 3, 5), a\n"
                          "assert (a.ravel() == np.array(" +
                              expect_values +
                              ", dtype=np.float32)).all()\n"
                              "s = np.load(d + '/ours_scalar.npy')\n"
                              "assert s.shape == () and s == 4.25\n"
                              "v = np.load(d + '/ours_i64.npy')\n"
                              "assert v.dtype == np.int64 and list(v) == [i << 40 for i in "
                              "range(5)]\n";
  EXPECT_EQ(std::system((python + " " + check + " " + dir_.string()).c_str()), 0);
}

// ---- checksums -----------------------------------------------------------------------------

TEST(Checksum, Fnv1aKnownVectors) {
  EXPECT_EQ(fnv1a64("", 0), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar", 6), 0x85944171f73967e8ull);
  // Incremental hashing continues the same stream.
  EXPECT_EQ(fnv1a64("bar", 3, fnv1a64("foo", 3)), 0x85944171f73967e8ull);
}

TEST(Checksum, DefinedOverDtypeShapeAndBytes) {
  const Tensor t = filled(DType::f32, {3, 4}, "normal", 1);
  const std::string c = tensor_checksum(t);
  EXPECT_TRUE(std::regex_match(c, std::regex("fnv1a64:[0-9a-f]{16}"))) << c;
  const std::string prefix = std::string("f32[3, 4]") + std::string(1, '\0');
  char want[40];
  std::snprintf(want, sizeof want, "fnv1a64:%016llx",
                static_cast<unsigned long long>(
                    fnv1a64(t.raw(), t.bytes(), fnv1a64(prefix.data(), prefix.size()))));
  EXPECT_EQ(c, want);
}

TEST(Checksum, EqualTensorsEqualAndAnyChangeDiffers) {
  const Tensor a = filled(DType::f32, {64, 64}, "normal", 1);
  const Tensor b = filled(DType::f32, {64, 64}, "normal", 1);
  EXPECT_EQ(tensor_checksum(a), tensor_checksum(b));
  EXPECT_EQ(tensor_checksum(a), tensor_checksum(a.clone()));
  Tensor c = a.clone();
  c.data<float>()[2000] = std::nextafter(c.data<float>()[2000], 10.0f);  // one bit of one element
  EXPECT_NE(tensor_checksum(a), tensor_checksum(c));
  // The same bytes under another shape or dtype are another tensor.
  Tensor reshaped(DType::f32, {4096});
  std::memcpy(reshaped.raw(), a.raw(), a.bytes());
  EXPECT_NE(tensor_checksum(a), tensor_checksum(reshaped));
  Tensor as_int(DType::i32, {64, 64});
  std::memcpy(as_int.raw(), a.raw(), a.bytes());
  EXPECT_NE(tensor_checksum(a), tensor_checksum(as_int));
  EXPECT_NE(tensor_checksum(Tensor(DType::f32, {0})), tensor_checksum(Tensor(DType::f32, {0, 1})));
}

// ---- the DataProvider the runner uses -----------------------------------------------------

using Provider = TempDir;

TEST_F(Provider, ImplementsTheHarnessInterface) {
  const SeededDataProvider impl;
  const DataProvider& dp = impl;
  EXPECT_EQ(dp.distributions(), distribution_names());
  Tensor t(DType::f32, {8, 256});
  dp.fill(t, "llm_outliers", 3);
  EXPECT_TRUE(same_bytes(t, filled(DType::f32, {8, 256}, "llm_outliers", 3)));
  EXPECT_THROW(dp.fill(t, "nonsense", 3), UsageError);
  dp.write_npy(t, path("t.npy"));
  const NpyHeader h = dp.read_npy_header(path("t.npy"));
  EXPECT_EQ(h.dtype, DType::f32);
  EXPECT_EQ(h.shape, (Shape{8, 256}));
  EXPECT_EQ(dp.checksum(dp.read_npy(path("t.npy"))), dp.checksum(t));
  EXPECT_THROW(dp.read_npy(path("absent.npy")), UsageError);
}
