// The `torch` peer's host side (contract in torch_peer.hpp): loads libopbench_torch.so once, on
// the first bind, and forwards each case to it.
#include "kernels/cpu/torch_peer.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "kernels/cpu/torch_plugin_abi.hpp"

#ifndef OPBENCH_TORCH_PLUGIN_PATH
#error "OPBENCH_TORCH_PLUGIN_PATH (the built plugin's path) must be defined by the build"
#endif

namespace opbench::torch_peer {
namespace {

namespace abi = torch_plugin;

// The loaded plugin, or why it could not be loaded. Loaded once per process: dlopen runs
// libtorch's initializers (about a second), and a failure would fail the same way again.
struct Plugin {
  abi::BindFn bind = nullptr;
  std::string error;
};

const Plugin& plugin() {
  static Plugin loaded = [] {
    Plugin p;
    const std::string path = plugin_path();
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      p.error = "cannot load the PyTorch plugin " + path + ": " + (why ? why : "unknown error");
      return p;
    }
    // Never dlclose'd: libtorch does not unload cleanly, and the process may bind again.
    auto abi_version =
        reinterpret_cast<abi::AbiVersionFn>(dlsym(handle, "opbench_torch_abi_version"));
    auto bind = reinterpret_cast<abi::BindFn>(dlsym(handle, "opbench_torch_bind"));
    if (abi_version == nullptr || bind == nullptr) {
      p.error =
          "the PyTorch plugin " + path + " lacks opbench_torch_abi_version or opbench_torch_bind";
    } else if (abi_version() != abi::kAbiVersion) {
      p.error = "the PyTorch plugin " + path + " speaks interface version " +
                std::to_string(abi_version()) + ", this opbench " +
                std::to_string(abi::kAbiVersion) + " (rebuild opbench)";
    } else {
      p.bind = bind;
    }
    return p;
  }();
  return loaded;
}

abi::Dtype dtype_of(const std::string& op, const std::string& tensor, DType dt) {
  switch (dt) {
    case DType::f32:
      return abi::Dtype::f32;
    case DType::bf16:
      return abi::Dtype::bf16;
    case DType::f16:
      return abi::Dtype::f16;
    case DType::i64:
      return abi::Dtype::i64;
    default:
      throw std::runtime_error("torch " + op + ": tensor \"" + tensor + "\" is " +
                               std::string(dtype_name(dt)) + ", which the peer does not pass on");
  }
}

abi::View view_of(const std::string& op, const std::string& name, const Tensor& t) {
  abi::View v;
  v.data = const_cast<void*>(t.raw());  // inputs are only read: the plugin wraps them as such
  v.dtype = dtype_of(op, name, t.dtype());
  v.shape = t.shape();
  return v;
}

class PluginKernel final : public BoundKernel {
 public:
  PluginKernel(std::string op, std::unique_ptr<abi::Kernel> kernel)
      : op_(std::move(op)), kernel_(std::move(kernel)) {}
  void run() override {
    guarded([&] { kernel_->run(); });
  }
  void fetch() override {
    guarded([&] { kernel_->fetch(); });
  }

 private:
  template <class F>
  void guarded(F f) {
    try {
      f();
    } catch (const std::exception& e) {
      throw std::runtime_error("torch " + op_ + ": " + e.what());
    }
  }
  std::string op_;
  std::unique_ptr<abi::Kernel> kernel_;
};

}  // namespace

std::string plugin_path() {
  const char* env = std::getenv("OPBENCH_TORCH_PLUGIN");
  return env != nullptr && *env != '\0' ? env : OPBENCH_TORCH_PLUGIN_PATH;
}

BindFn bind(const std::string& op, double eps) {
  return [op, eps](const TensorMap& inputs, TensorMap& outputs,
                   const Params& p) -> std::unique_ptr<BoundKernel> {
    const Plugin& loaded = plugin();
    if (loaded.bind == nullptr) throw std::runtime_error("torch " + op + ": " + loaded.error);
    abi::Call call;
    call.op = op;
    call.eps = eps;
    for (const auto& [name, t] : inputs) call.inputs[name] = view_of(op, name, t);
    for (auto& [name, t] : outputs) call.outputs[name] = view_of(op, name, t);
    for (const auto& [name, value] : p.items()) call.params[name] = value;
    std::string error;
    std::unique_ptr<abi::Kernel> kernel(loaded.bind(&call, &error));
    if (!kernel) throw std::runtime_error("torch " + op + ": " + error);
    return std::make_unique<PluginKernel>(op, std::move(kernel));
  };
}

}  // namespace opbench::torch_peer
