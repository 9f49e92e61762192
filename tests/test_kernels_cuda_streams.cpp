// Every cuda.fast kernel queues all its work on the stream it was bound to, and its run() never
// synchronizes: each one's run is captured into a CUDA graph on a stream of this test's own (a
// capture in thread-local mode refuses a launch, copy or memset on the legacy default stream and
// any synchronizing call, and records only what was queued on the captured stream), and the
// replayed graph must leave exactly the outputs a plain run wrote. Built only with CUDA; without a
// device every test skips with the reason cuda_status() gives. (The replay writes the same buffers
// a plain run wrote, so it shows the captured work is whole and repeatable; that every element is
// written is the poisoned-output check of the runner's tests.)
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <utility>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "datasets/provider.hpp"
#include "harness/case_data.hpp"
#include "harness/device.hpp"
#include "harness/runner.hpp"
#include "suites/suites.hpp"

namespace opbench {
namespace {

class CudaStreams : public ::testing::Test {
 protected:
  void SetUp() override {
    const BackendStatus st = cuda_status();
    if (!st.available) GTEST_SKIP() << st.detail;
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess);
  }
  void TearDown() override {
    if (stream_) cudaStreamDestroy(stream_);
  }
  cudaStream_t stream_ = nullptr;
};

// Byte-equal outputs (NaN payloads and all), or the first output that differs.
std::string first_difference(const TensorMap& a, const TensorMap& b) {
  for (const auto& [name, t] : a) {
    const Tensor& u = b.at(name);
    if (t.bytes() != u.bytes() || std::memcmp(t.raw(), u.raw(), t.bytes()) != 0) return name;
  }
  return "";
}

TensorMap copy_of(const TensorMap& m) {
  TensorMap copy;
  for (const auto& [name, t] : m) {
    Tensor c(t.dtype(), t.shape());
    if (t.bytes() > 0) std::memcpy(c.raw(), t.raw(), t.bytes());
    copy.emplace(name, std::move(c));
  }
  return copy;
}

// The graph captured from one run() on `stream`, or the reason there is none.
std::pair<cudaGraph_t, std::string> capture_run(BoundKernel& kernel, cudaStream_t stream) {
  if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
    return {nullptr, "cudaStreamBeginCapture failed"};
  }
  std::string problem;
  try {
    kernel.run();
  } catch (const std::exception& e) {
    problem = std::string("run() under capture threw: ") + e.what();
  }
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream, &graph);
  if (problem.empty() && end != cudaSuccess) {
    problem = std::string(
                  "the capture was invalidated (work outside the bound stream, or a "
                  "synchronizing call): ") +
              cudaGetErrorString(end);
  }
  cudaGetLastError();
  if (!problem.empty() && graph) {
    cudaGraphDestroy(graph);
    graph = nullptr;
  }
  return {graph, problem};
}

TEST_F(CudaStreams, EveryCudaKernelQueuesOnlyOnItsBoundStreamAndNeverSynchronizes) {
  Registry reg;
  register_all_suites(reg);
  Selection sel;
  sel.backends = {"cuda"};
  sel.timing_modes = {"hot"};
  datasets::SeededDataProvider data;
  RunOptions options;
  std::set<std::string> seen;  // the first runnable case of each (op, impl)
  int captured = 0;
  for (const CasePlan& c : plan_cases(reg, sel, data)) {
    if (!c.skip_reason.empty() || !seen.insert(c.op->name + "/" + c.impl->name).second) continue;
    SCOPED_TRACE(c.name);
    const Dataset d = make_inputs(c, data, sel, options);
    ASSERT_TRUE(d.error.empty()) << d.error;
    TensorMap out = allocate_outputs(c);
    StreamScope scope(stream_);
    auto kernel = c.impl->bind(d.inputs, out, c.params);
    ASSERT_EQ(kernel->stream(), static_cast<void*>(stream_));
    // Accumulate-into outputs (pkm_layer_backward's) start from zero before each of the two runs
    // compared, so that the replay's sums are the first run's, not added to them.
    if (kernel->accumulates()) kernel->reset_accumulators();
    kernel->run();  // the untimed first run: scratch is allocated here, not under capture
    kernel->fetch();
    const TensorMap plain = copy_of(out);
    auto [graph, problem] = capture_run(*kernel, stream_);
    ASSERT_TRUE(problem.empty()) << problem;
    std::size_t nodes = 0;
    EXPECT_EQ(cudaGraphGetNodes(graph, nullptr, &nodes), cudaSuccess);
    EXPECT_GT(nodes, 0u) << "nothing was queued on the bound stream";
    // The replay runs the captured work again, on the same buffers: the same outputs.
    cudaGraphExec_t exec = nullptr;
    EXPECT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    if (exec) {
      if (kernel->accumulates()) kernel->reset_accumulators();
      EXPECT_EQ(cudaGraphLaunch(exec, stream_), cudaSuccess);
      kernel->fetch();
      cudaGraphExecDestroy(exec);
    }
    cudaGraphDestroy(graph);
    EXPECT_EQ(first_difference(plain, out), "");
    ++captured;
  }
  EXPECT_GT(captured, 10);
}

}  // namespace
}  // namespace opbench
