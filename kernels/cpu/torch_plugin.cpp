// The PyTorch plugin's entry points (interface in torch_plugin_abi.hpp): hands a case to the
// family that knows its op, and turns every failure into a one-line error.
#include <ATen/Parallel.h>
#include <omp.h>
#include <torch/version.h>

#include "kernels/cpu/torch_plugin_common.hpp"

namespace tp = opbench::torch_plugin;

extern "C" {

__attribute__((visibility("default"))) int opbench_torch_abi_version() {
  return tp::kAbiVersion;
}

__attribute__((visibility("default"))) const char* opbench_torch_version() {
  return TORCH_VERSION;
}

__attribute__((visibility("default"))) tp::Kernel* opbench_torch_bind(const tp::Call* call,
                                                                      std::string* error) {
  try {
    // PyTorch's pool as wide as opbench's --threads (both are the same OpenMP runtime).
    at::set_num_threads(omp_get_max_threads());
    std::unique_ptr<tp::Kernel> k = tp::bind_norm(*call);
    if (!k) k = tp::bind_scan(*call);
    if (!k) k = tp::bind_fff(*call);
    if (!k) k = tp::bind_pkm(*call);
    if (!k) tp::fail("the PyTorch plugin has no op \"" + call->op + "\"");
    return k.release();
  } catch (const c10::Error& e) {
    *error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    *error = e.what();
  }
  // PyTorch's messages can span lines; a case error is one.
  for (char& ch : *error) {
    if (ch == '\n') ch = ' ';
  }
  return nullptr;
}

}  // extern "C"
