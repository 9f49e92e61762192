#pragma once
// The `torch` peer: PyTorch's eager CPU ops through libtorch, as a PyTorch user writes them.
// Built only when CMake finds a working libtorch (OPBENCH_HAVE_TORCH); the PyTorch code itself
// lives in a plugin loaded at the first bind (kernels/cpu/torch_plugin_abi.hpp says why), so this
// part neither includes nor links libtorch.
//
// Timing: run() is the eager call chain, each op allocating its result as eager PyTorch does;
// fetch() copies the result into the case's output outside the timed runs. Threads: the plugin
// runs PyTorch's OpenMP pool at omp_get_max_threads() of the binding thread (opbench's --threads).
//
// Errors: a plugin that cannot be loaded (libtorch missing or broken at run time), an op it does
// not know, or a PyTorch error are thrown as std::runtime_error starting "torch <op>:", so the
// case is recorded as an error and the run goes on.
#include <string>

#include "harness/op.hpp"

namespace opbench::torch_peer {

// Where the plugin is loaded from: $OPBENCH_TORCH_PLUGIN when set, else the path it was built at.
std::string plugin_path();

// A BindFn for the op `op` ("layernorm") that hands the case to the plugin. `eps` is the family's
// epsilon, passed to PyTorch's functions as they take it.
BindFn bind(const std::string& op, double eps = 0);

}  // namespace opbench::torch_peer
