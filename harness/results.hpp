#pragma once
// What one run produced, handed to reports/: Google Benchmark's own JSON (context and benchmarks,
// unchanged) plus what opbench knows about each case.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/agreement.hpp"
#include "harness/op.hpp"

namespace opbench {

struct TensorRecord {
  std::string name;
  std::string dtype;
  Shape shape;
  std::string source;  // "generated" or the path of the user's .npy
  std::string dist;    // distribution spec when generated
  std::uint64_t seed = 0;
  std::string checksum;
};

// The inputs of one (op, dtype, parameter point): shared by all implementations of that point.
struct DatasetRecord {
  std::string key;  // "norm/layernorm/f32/rows:64/cols:4096/dist:normal"
  std::vector<TensorRecord> tensors;
  // Sampled agreement: the rows along `sample_axis` that were checked (empty axis: all of them).
  std::string sample_axis;
  std::vector<std::int64_t> sample_rows;
  std::int64_t sample_of = 0;
  std::uint64_t sample_seed = 0;
};

struct CaseRecord {
  std::string name;  // benchmark name without Google Benchmark's suffixes
  std::string suite, op, impl, backend;
  std::string dtype;
  Params params;
  Cost cost;
  Agreement agreement;
  bool is_reference = false;
  std::string dataset;  // DatasetRecord::key
  std::string error;    // set when the case could not run (the kernel threw)
};

// A ceiling of the machine measured in this run: a copy moving `bytes` (read + write) or a large
// SGEMM.
struct Ceiling {
  std::string backend;  // "cpu" or "cuda"
  std::string kind;     // "copy" or "sgemm"
  double bytes = 0;     // copy: bytes read + written per execution
  double flops = 0;     // sgemm: flops per execution
  double seconds = 0;   // median time of one execution
  double gbps() const { return seconds > 0 ? bytes / seconds / 1e9 : 0; }
  double gflops() const { return seconds > 0 ? flops / seconds / 1e9 : 0; }
};

struct BuildInfo {
  std::string tool_version, git_commit, compiler, cxx_flags, build_type, blas, cuda, onednn, faiss;
  bool git_dirty = false;
  bool native = false;
};

struct RunResult {
  nlohmann::json
      gbench;  // {"context": ..., "benchmarks": [...]} exactly as Google Benchmark wrote it
  std::vector<CaseRecord> cases;
  std::vector<DatasetRecord> datasets;
  std::vector<Ceiling> ceilings;
  BuildInfo build;
  std::vector<std::string> devices;  // "cpu: AMD EPYC ...", "cuda:0: NVIDIA H100 ..."
  int threads = 1;
  bool timed = true;  // false for `opbench check`
  // Repetitions taken in rounds across the cases (RunOptions::interleave), not back to back.
  bool interleaved = false;
  std::string command_line;
};

// Fraction of the roofline: the time the ceilings allow for `cost` over the measured time.
// Memory-bound work gives achieved GB/s over the copy ceiling. 0 when no ceiling is known.
double ceiling_fraction(const Cost& cost, double seconds, double copy_gbps, double gemm_gflops);

}  // namespace opbench
