// Backends as parts (harness/backend.hpp): the runner, the planner and the ceilings ask a case's
// backend for its status, timing modes, ceilings, memory and whether it lost its context. A test
// backend declared here shows each of those paths without any device.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "datasets/provider.hpp"
#include "harness/backend.hpp"
#include "harness/errors.hpp"
#include "harness/registry.hpp"
#include "harness/runner.hpp"
#include "harness/timing.hpp"
#include "tests/toy_ops.hpp"

namespace opbench {
namespace {

// Wall-clock timing through Google Benchmark's loop, as the host's.
class LoopTiming final : public TimingStrategy {
 public:
  bool manual_time() const override { return false; }
  void measure(benchmark::State& state, BoundKernel& kernel) override {
    for (auto _ : state) kernel.run();
  }
};

// A copy kernel that does nothing measurable but exists (so a ceiling is recorded).
class NoopKernel final : public BoundKernel {
 public:
  void run() override { benchmark::DoNotOptimize(this); }
};

// A backend with two timing modes, a settable memory size, and a "lost" switch.
struct ToyState {
  std::uint64_t memory = 0;
  std::string lost;
};

class ToyBackend final : public Backend {
 public:
  explicit ToyBackend(std::shared_ptr<ToyState> state) : state_(std::move(state)) {}
  std::string name() const override { return "toy"; }
  BackendStatus status() const override { return {"toy", true, "a test backend"}; }
  std::vector<std::string> timing_modes() const override { return {"fast", "slow"}; }
  std::unique_ptr<TimingStrategy> timing(const std::string& mode) const override {
    return mode == "fast" || mode == "slow" ? std::make_unique<LoopTiming>() : nullptr;
  }
  std::unique_ptr<BoundKernel> copy_ceiling(double) const override {
    return std::make_unique<NoopKernel>();
  }
  CeilingKernel compute_ceiling() const override {
    return {std::make_unique<NoopKernel>(), 1e6, "sgemm"};
  }
  std::uint64_t memory_available() const override { return state_->memory; }
  std::vector<std::string> devices() const override { return {"toy:0: a test device"}; }
  std::string lost() const override { return state_->lost; }

 private:
  std::shared_ptr<ToyState> state_;
};

using test_support::copy_op;  // y = x over x[n] (tests/toy_ops.hpp)

Impl toy_impl(std::shared_ptr<ToyState> state, bool lose_after_first) {
  Impl impl;
  impl.name = "toy.copy";
  impl.backend = "toy";
  auto runs = std::make_shared<int>(0);
  impl.bind = bind_host(
      [state, lose_after_first, runs](const TensorMap& in, TensorMap& out, const Params&) {
        if (lose_after_first && ++*runs > 1) {
          state->lost = "the toy device fell over";
          throw std::runtime_error("toy kernel faulted");
        }
        for (std::int64_t i = 0; i < in.at("x").numel(); ++i) {
          out.at("y").data<float>()[i] = in.at("x").data<float>()[i];
        }
      });
  impl.scratch_bytes = [](const Params& p) { return 1000.0 * static_cast<double>(p.i("n")); };
  return impl;
}

struct Fixture {
  std::shared_ptr<ToyState> state = std::make_shared<ToyState>();
  Registry reg;
  datasets::SeededDataProvider data;
  explicit Fixture(bool lose_after_first = false) {
    reg.add_backend(std::make_unique<ToyBackend>(state));
    reg.add_op(copy_op());
    reg.add_impl("toy", "copy", toy_impl(state, lose_after_first));
  }
  std::vector<CasePlan> plan(std::vector<std::string> modes = {}) {
    Selection sel;
    sel.impls = {"toy.copy"};
    sel.timing_modes = std::move(modes);
    return plan_cases(reg, sel, data);
  }
};

TEST(Backends, TheBuiltInBackendsAreThereFromTheStart) {
  Registry reg;
  for (const char* name : {"ref", "cpu", "cuda"}) {
    const Backend* b = reg.find_backend(name);
    ASSERT_NE(b, nullptr) << name;
    EXPECT_EQ(b->name(), name);
  }
  EXPECT_EQ(reg.find_backend("cpu")->timing_modes(), std::vector<std::string>{"wall"});
  EXPECT_TRUE(reg.find_backend("ref")->timing_modes().empty());  // the reference is not timed
  EXPECT_NE(reg.find_backend("cpu")->compute_ceiling().kernel, nullptr);
  EXPECT_EQ(reg.find_backend("ref")->copy_ceiling(1024), nullptr);
}

TEST(Backends, ABackendWithSeveralTimingModesGetsOneCasePerMode) {
  Fixture f;
  const std::vector<CasePlan> all = f.plan();
  ASSERT_EQ(all.size(), 4u);  // 2 points x 2 modes
  EXPECT_EQ(all[0].name, "toy/copy/toy.copy/f32/n:16/dist:normal/mode:fast");
  EXPECT_EQ(all[1].name, "toy/copy/toy.copy/f32/n:16/dist:normal/mode:slow");
  EXPECT_EQ(all[0].dataset_key, all[1].dataset_key);  // one dataset for both modes
  EXPECT_EQ(all[1].timing_mode, "slow");
  const std::vector<CasePlan> slow = f.plan({"slow"});
  ASSERT_EQ(slow.size(), 2u);
  for (const CasePlan& c : slow) EXPECT_EQ(c.timing_mode, "slow");
  try {
    f.plan({"tepid"});
    ADD_FAILURE() << "an unknown timing mode was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown timing mode 'tepid'"), std::string::npos)
        << e.what();
  }
}

TEST(Backends, ACaseThatCannotFitItsBackendsMemoryIsRefusedBeforeAllocating) {
  Fixture f;
  f.state->memory = 20000;  // n=16 needs 2 x 64 B + 16000 B of scratch; n=32 needs 32256 B
  try {
    f.plan();
    ADD_FAILURE() << "the n=32 case was planned";
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("toy/copy/toy.copy at n:32/dist:normal needs"), std::string::npos) << what;
    EXPECT_NE(what.find("on toy"), std::string::npos) << what;
  }
  f.state->memory = 1 << 20;
  EXPECT_EQ(f.plan().size(), 4u);
}

TEST(Backends, TimedCasesRecordTheirModeAndTheBackendsCeilingsAndDevices) {
  Fixture f;
  Selection sel;
  sel.impls = {"toy.copy"};
  sel.axis_overrides = {{"n", "16"}};
  RunOptions opt;
  opt.benchmark_flags = {"--benchmark_min_time=0.001"};
  const RunResult r = run_cases(f.reg, plan_cases(f.reg, sel, f.data), f.data, sel, opt);
  ASSERT_EQ(r.cases.size(), 2u);
  EXPECT_EQ(r.cases[0].timing.mode, "fast");
  EXPECT_EQ(r.cases[1].timing.mode, "slow");
  bool copy = false, compute = false;
  for (const Ceiling& k : r.ceilings) {
    copy |= k.backend == "toy" && k.kind == "copy";
    compute |= k.backend == "toy" && k.kind == "sgemm" && k.flops == 1e6;
  }
  EXPECT_TRUE(copy);
  EXPECT_TRUE(compute);
  EXPECT_NE(std::find(r.devices.begin(), r.devices.end(), "toy:0: a test device"), r.devices.end());
}

TEST(Backends, OnceABackendIsLostItsLaterCasesErrorWithTheReason) {
  Fixture f(/*lose_after_first=*/true);
  Selection sel;
  sel.impls = {"toy.copy"};
  sel.timing_modes = {"fast"};
  RunOptions opt;
  opt.time = false;
  const RunResult r = run_cases(f.reg, plan_cases(f.reg, sel, f.data), f.data, sel, opt);
  ASSERT_EQ(r.cases.size(), 2u);
  EXPECT_EQ(r.cases[0].agreement.status, AgreementStatus::pass);  // its one run was fine
  // The n=32 case: its check run faulted and lost the backend.
  EXPECT_EQ(r.cases[1].agreement.status, AgreementStatus::error);
  EXPECT_EQ(r.cases[1].error, "toy kernel faulted");

  // Three points more: the kernel faults at once (its first run here is its third in all) and
  // loses the backend; the cases after it never run, and get the backend's reason.
  Selection more = sel;
  more.axis_overrides = {{"n", "16,32,64"}};
  f.state->lost.clear();
  const RunResult again = run_cases(f.reg, plan_cases(f.reg, more, f.data), f.data, more, opt);
  ASSERT_EQ(again.cases.size(), 3u);
  EXPECT_EQ(again.cases[0].error, "toy kernel faulted");
  for (int i : {1, 2}) {
    EXPECT_EQ(again.cases[i].agreement.status, AgreementStatus::error);
    EXPECT_EQ(again.cases[i].error, "the toy device fell over");
  }
}

TEST(Timing, TheMinimumTimeIsReadFromGoogleBenchmarksFlagInSecondsOnly) {
  EXPECT_EQ(min_time_seconds({}), 0);
  EXPECT_EQ(min_time_seconds({"--benchmark_repetitions=3"}), 0);
  EXPECT_EQ(min_time_seconds({"--benchmark_min_time=0.250000"}), 0.25);
  EXPECT_EQ(min_time_seconds({"--benchmark_min_time=0.5s"}), 0.5);
  // An iteration count is Google Benchmark's to run as asked: no estimate then.
  EXPECT_EQ(min_time_seconds({"--benchmark_min_time=100x"}), 0);
  EXPECT_EQ(min_time_seconds({"--benchmark_min_time=soon"}), 0);
  EXPECT_EQ(min_time_seconds({"--benchmark_min_time=-1"}), 0);
  EXPECT_EQ(min_time_seconds({"--benchmark_min_time=0.1", "--benchmark_min_time=2"}), 2);
}

TEST(Timing, TheIterationsFillTheMinimumTimeAndAtLeastOne) {
  EXPECT_EQ(iterations_filling(0.1, 0.001), 100);
  EXPECT_EQ(iterations_filling(0.1, 0.003), 34);  // 33.3 rounded up: never under the minimum
  EXPECT_EQ(iterations_filling(0.1, 0.5), 1);
  EXPECT_EQ(iterations_filling(0.1, 0.0), 100000000);     // a call below the clock's resolution
  EXPECT_EQ(iterations_filling(1e3, 1e-12), 1000000000);  // Google Benchmark's cap
}

}  // namespace
}  // namespace opbench
