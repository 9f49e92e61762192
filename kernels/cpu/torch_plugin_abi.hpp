#pragma once
// The interface between opbench and its `torch` peer plugin (libopbench_torch.so).
//
// Why a plugin: libtorch takes about a second to start in every process that links it (its
// static initializers register thousands of operators), and opbench starts hundreds of processes
// in a test run, most of which never run a PyTorch case. So the opbench binary does not link
// libtorch; kernels/cpu/torch_peer.cpp loads the plugin with dlopen the first time a `torch` case
// is bound, and a missing or broken libtorch becomes that case's error, never a failed start.
//
// The plugin is built from the same sources by the same compiler in the same build, so plain C++
// types cross the boundary; nothing here depends on libtorch or on opbench's harness.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace opbench::torch_plugin {

// Bump when anything below changes; the loader refuses a plugin of another version.
constexpr int kAbiVersion = 1;

enum class Dtype : int { f32 = 0, bf16 = 1, f16 = 2, i64 = 3 };

// One of the case's tensors, in place (row-major, no copy): the plugin wraps `data` with
// at::from_blob, so PyTorch reads the inputs opbench generated and writes into its outputs.
struct View {
  void* data = nullptr;
  Dtype dtype = Dtype::f32;
  std::vector<std::int64_t> shape;
};

// What one case asks of the plugin: the op's name ("layernorm"), its tensors, its parameters as
// the command line spells them ("rows" -> "1024", "form" -> "log") and the family's epsilon.
struct Call {
  std::string op;
  std::map<std::string, View> inputs;
  std::map<std::string, View> outputs;
  std::map<std::string, std::string> params;
  double eps = 0;
};

// A case bound to PyTorch. run() is what is timed: the eager ops as a PyTorch user writes them,
// each allocating its result as eager PyTorch does. fetch() copies the last result into the
// case's output tensors (untimed).
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run() = 0;
  virtual void fetch() = 0;
};

// The plugin's entry points (extern "C", looked up by these names):
//   int opbench_torch_abi_version();
//   const char* opbench_torch_version();    // "1.13.1" (TORCH_VERSION of the headers built
//   against) Kernel* opbench_torch_bind(const Call* call, std::string* error);
// bind returns nullptr and sets *error (one line, naming the op and what was wrong: "no such op",
// a tensor of an unexpected dtype, PyTorch's own message) when it cannot bind; the caller owns
// the returned kernel. run() and fetch() throw std::runtime_error with PyTorch's message.
using AbiVersionFn = int (*)();
using VersionFn = const char* (*)();
using BindFn = Kernel* (*)(const Call* call, std::string* error);

}  // namespace opbench::torch_plugin
