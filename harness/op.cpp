#include "harness/op.hpp"

#include <cctype>
#include <stdexcept>

namespace opbench {

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::fwd:
      return "fwd";
    case Mode::bwd:
      return "bwd";
    case Mode::fwd_bwd:
      return "fwd_bwd";
  }
  return "fwd";
}

std::optional<Mode> parse_mode(const std::string& s) {
  for (Mode m : {Mode::fwd, Mode::bwd, Mode::fwd_bwd}) {
    if (s == mode_name(m)) return m;
  }
  return std::nullopt;
}

Shape Op::shape_of(const TensorDecl& t, const Params& p) const {
  Shape s;
  for (const std::string& d : t.dims) {
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0]))) {
      s.push_back(std::stoll(d));  // a literal size such as "1"
    } else if (auto it = derived.find(d); it != derived.end()) {
      s.push_back(it->second(p));
    } else {
      s.push_back(p.i(d));
    }
  }
  return s;
}

const TensorDecl* Op::find_tensor(const std::string& n) const {
  for (const auto& t : tensors) {
    if (t.name == n) return &t;
  }
  return nullptr;
}

const Axis* Op::find_axis(const std::string& n) const {
  for (const auto& a : axes) {
    if (a.name == n) return &a;
  }
  return nullptr;
}

const Impl* Op::find_impl(const std::string& n) const {
  for (const auto& i : impls) {
    if (i.name == n) return &i;
  }
  return nullptr;
}

namespace {
class HostKernel final : public BoundKernel {
 public:
  HostKernel(HostKernelFn fn, const TensorMap& in, TensorMap& out, const Params& p)
      : fn_(std::move(fn)), in_(in), out_(out), p_(p) {}
  void run() override { fn_(in_, out_, p_); }

 private:
  HostKernelFn fn_;
  const TensorMap& in_;
  TensorMap& out_;
  Params p_;
};
}  // namespace

BindFn bind_host(HostKernelFn fn) {
  return [fn](const TensorMap& in, TensorMap& out, const Params& p) {
    return std::make_unique<HostKernel>(fn, in, out, p);
  };
}

}  // namespace opbench
