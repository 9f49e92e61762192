// Fuzz target: the parsers of what a user types after --axis and in distribution specs. The same
// text goes to an integer axis, a text axis and the distribution parser; each accepts it or
// refuses it with a UsageError naming the axis or the distribution. Their messages quote the
// user's text, control characters included: the command line escapes those when it prints the
// one line (tools/opbench.cpp), so no newline check here. What is accepted must be usable:
// integer values are positive integers that parse again to themselves, and an accepted
// distribution fills small tensors of every dtype it allows without a sanitizer report.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "datasets/distributions.hpp"
#include "fuzz/fuzz_check.hpp"
#include "harness/errors.hpp"
#include "harness/params.hpp"

using opbench::Axis;
using opbench::DType;
using opbench::Tensor;
using opbench::UsageError;
namespace ds = opbench::datasets;
namespace fz = opbench::fuzz;

// One OpenMP thread: the fills are tiny, and waking a team per input would cost most of the time.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("OMP_NUM_THREADS", "1", 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;  // what a command line holds
  const std::string text(reinterpret_cast<const char*>(data), size);

  Axis rows{"rows", Axis::Kind::integer, {"64"}, {"64"}, "rows"};
  try {
    for (const std::string& v : opbench::parse_axis_values(rows, text)) {
      OPBENCH_FUZZ_CHECK(
          !v.empty() && v[0] != '0' && v.find_first_not_of("0123456789") == std::string::npos, v);
      const auto again = opbench::parse_axis_values(rows, v);
      OPBENCH_FUZZ_CHECK(again.size() == 1 && again[0] == v, v);
    }
  } catch (const UsageError& e) {
    OPBENCH_FUZZ_CHECK(std::string(e.what()).rfind("axis 'rows': ", 0) == 0, e.what());
  }

  Axis dist{"dist", Axis::Kind::text, {"normal"}, {"normal"}, "dist"};
  try {
    for (const std::string& v : opbench::parse_axis_values(dist, text)) {
      OPBENCH_FUZZ_CHECK(!v.empty() && v.find(',') == std::string::npos, v);
    }
  } catch (const UsageError& e) {
    OPBENCH_FUZZ_CHECK(std::string(e.what()).rfind("axis 'dist': ", 0) == 0, e.what());
  }

  try {
    ds::parse_distribution(text);
  } catch (const UsageError& e) {
    OPBENCH_FUZZ_CHECK(std::string(e.what()).find("distribution") != std::string::npos, e.what());
    return 0;
  }
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64}) {
    Tensor t(dt, {3, 130});  // 130 columns: llm_outliers picks a column; odd element counts
    try {
      ds::fill_distribution(t, text, 0x5eed);
    } catch (const UsageError& e) {
      OPBENCH_FUZZ_CHECK(std::string(e.what()).find("distribution") != std::string::npos ||
                             std::string(e.what()).find("fill") != std::string::npos,
                         e.what());
    }
  }
  return 0;
}
