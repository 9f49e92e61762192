#pragma once
// What every family's part of the PyTorch plugin shares: wrapping opbench's tensors as at::Tensor
// in place, reading parameters, and the one kernel shape they all take (an eager call chain whose
// results fetch() copies into the case's outputs). Included by the plugin's sources only, which
// alone are compiled against libtorch.
#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/torch_plugin_abi.hpp"

namespace opbench::torch_plugin {

[[noreturn]] inline void fail(const std::string& what) {
  throw std::runtime_error(what);
}

inline at::ScalarType scalar_type(Dtype d) {
  switch (d) {
    case Dtype::f32:
      return at::kFloat;
    case Dtype::bf16:
      return at::kBFloat16;
    case Dtype::f16:
      return at::kHalf;
    case Dtype::i64:
      return at::kLong;
  }
  fail("unknown dtype code " + std::to_string(static_cast<int>(d)));
}

// The tensor `view` as an at::Tensor over the same memory (no copy, row-major strides).
inline at::Tensor wrap(const View& view) {
  return at::from_blob(view.data, view.shape, at::TensorOptions().dtype(scalar_type(view.dtype)));
}

inline at::Tensor input(const Call& c, const std::string& name) {
  auto it = c.inputs.find(name);
  if (it == c.inputs.end()) fail("missing input tensor \"" + name + "\"");
  return wrap(it->second);
}

inline std::int64_t param(const Call& c, const std::string& name) {
  auto it = c.params.find(name);
  if (it == c.params.end()) fail("missing parameter \"" + name + "\"");
  return std::stoll(it->second);
}

inline const std::string& text_param(const Call& c, const std::string& name) {
  auto it = c.params.find(name);
  if (it == c.params.end()) fail("missing parameter \"" + name + "\"");
  return it->second;
}

// The dtype of the case, read from one of its tensors that takes the case's dtype.
inline at::ScalarType case_dtype(const Call& c, const std::string& tensor) {
  return input(c, tensor).scalar_type();
}

// Runs f, rethrowing PyTorch's errors as std::runtime_error with their message on one line
// (c10::Error's what() carries a multi-line C++ backtrace).
template <class F>
void one_line_errors(F f) {
  try {
    f();
  } catch (const c10::Error& e) {
    std::string message = e.what_without_backtrace();
    for (char& ch : message) {
      if (ch == '\n') ch = ' ';
    }
    throw std::runtime_error(message);
  }
}

// `t` as a leaf tensor whose gradient autograd accumulates (a module's parameter, an input with
// requires_grad=True), over the same memory.
inline at::Tensor leaf(const at::Tensor& t) {
  return t.detach().requires_grad_(true);
}

// The eager chain `body` (what run() times), whose results are copied, in order, into the case's
// outputs named `outputs` by fetch(). Without `leaves` it runs as a forward pass under
// torch.inference_mode(); with them, as a training step: autograd records the chain, which ends
// in backward() and returns the leaves' gradients, and each run starts with the leaves' .grad set
// to None (optimizer.zero_grad(set_to_none=True)), so a step's gradients are its own.
class Eager final : public Kernel {
 public:
  using Body = std::function<std::vector<at::Tensor>()>;
  Eager(const Call& call, std::vector<std::string> outputs, Body body,
        std::vector<at::Tensor> leaves = {})
      : body_(std::move(body)), leaves_(std::move(leaves)) {
    for (const std::string& name : outputs) {
      auto it = call.outputs.find(name);
      if (it == call.outputs.end()) fail("missing output tensor \"" + name + "\"");
      outputs_.push_back(wrap(it->second));
    }
  }
  void run() override {
    one_line_errors([&] {
      // What a user timing a forward pass writes (torch.inference_mode()): no autograd records.
      std::optional<c10::InferenceMode> no_autograd;
      if (leaves_.empty()) no_autograd.emplace();
      for (at::Tensor& t : leaves_) t.mutable_grad().reset();
      results_ = body_();
    });
  }
  void fetch() override {
    one_line_errors([&] {
      if (results_.size() != outputs_.size()) fail("fetch before run");
      for (std::size_t i = 0; i < outputs_.size(); ++i) {
        outputs_[i].copy_(results_[i].reshape(outputs_[i].sizes()));
      }
    });
  }

 private:
  Body body_;
  std::vector<at::Tensor> leaves_;
  std::vector<at::Tensor> outputs_;
  std::vector<at::Tensor> results_;
};

// Each family's binder: a kernel for the ops it knows, nullptr for the others.
std::unique_ptr<Kernel> bind_norm(const Call& call);
std::unique_ptr<Kernel> bind_scan(const Call& call);
std::unique_ptr<Kernel> bind_fff(const Call& call);
std::unique_ptr<Kernel> bind_pkm(const Call& call);

}  // namespace opbench::torch_plugin
