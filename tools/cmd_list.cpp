// `opbench list`: suites, ops, implementations, axes, and which backends can run here.
#include <algorithm>
#include <iostream>

#include "harness/errors.hpp"
#include "suites/suites.hpp"
#include "tools/cli.hpp"

namespace opbench::cli {

namespace {
std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}
std::string dtype_list(const std::vector<DType>& v) {
  std::vector<std::string> names;
  for (DType t : v) names.emplace_back(dtype_name(t));
  return join(names);
}
}  // namespace

int cmd_list(const Args& args) {
  po::options_description desc(
      "opbench list [options]\n\nLists suites, ops, implementations, "
      "axes and the backends available here.\n\nOptions");
  SelectionOptions sel;
  bool help = false;
  desc.add_options()("help,h", po::bool_switch(&help), "this help");
  sel.add_to(desc, false, false);
  parse(args, desc);
  if (help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  Registry reg;
  register_all_suites(reg);
  Selection s = sel.to_selection();
  auto in = [](const std::vector<std::string>& f, const std::string& n) {
    return f.empty() || std::find(f.begin(), f.end(), n) != f.end();
  };
  std::vector<std::string> suites = reg.suite_names(), ops;
  for (const auto& op : reg.ops()) ops.push_back(op.name);
  for (const auto& name : s.suites) {
    if (std::find(suites.begin(), suites.end(), name) == suites.end()) {
      throw UsageError("unknown suite '" + name + "'; known: " + join(suites, ", "));
    }
  }
  for (const auto& name : s.ops) {
    if (std::find(ops.begin(), ops.end(), name) == ops.end()) {
      throw UsageError("unknown op '" + name + "'; known: " + join(ops, ", "));
    }
  }
  std::vector<std::string> impls, backends;
  for (const auto& op : reg.ops()) {
    for (const auto& i : op.impls) {
      if (std::find(impls.begin(), impls.end(), i.name) == impls.end()) impls.push_back(i.name);
    }
  }
  for (const auto& b : reg.backends()) backends.push_back(b->name());
  for (const auto& name : s.impls) {
    if (std::find(impls.begin(), impls.end(), name) == impls.end()) {
      throw UsageError("unknown implementation '" + name + "'; known: " + join(impls, ", "));
    }
  }
  for (const auto& name : s.backends) {
    if (std::find(backends.begin(), backends.end(), name) == backends.end()) {
      throw UsageError("unknown backend '" + name + "'; known: " + join(backends, ", "));
    }
  }

  for (const auto& name : s.modes) {
    if (!parse_mode(name))
      throw UsageError("unknown mode '" + name + "'; known: fwd, bwd, fwd_bwd");
  }

  // Names are valid: only now print anything.
  std::cout << "Backends:\n";
  for (const auto& b : reg.backends()) {
    const BackendStatus st = b->status();
    std::cout << "  " << st.name << (st.available ? "  available: " : "  NOT available: ")
              << st.detail;
    const std::vector<std::string> modes = b->timing_modes();
    if (!modes.empty()) std::cout << " (timing: " << join(modes, ", ") << ")";
    std::cout << "\n";
  }
  std::cout << "Peers:\n";
  for (const auto& p : reg.peers()) {
    std::cout << "  " << p.name << (p.available ? "  available: " : "  NOT available: ") << p.detail
              << "\n";
  }
  for (const auto& suite : suites) {
    if (!in(s.suites, suite)) continue;
    std::cout << "\nSuite " << suite << ":\n";
    for (const auto& op : reg.ops()) {
      if (op.suite != suite || !in(s.ops, op.name) || !in(s.modes, mode_name(op.mode))) continue;
      std::cout << "  " << op.name << ": " << op.title << "\n";
      std::cout << "    paper: " << op.paper << "\n";
      std::cout << "    mode: " << mode_name(op.mode);
      if (op.gradient) {
        // What a backward op differentiates, and what its forward pass hands it.
        std::vector<std::string> grads, saved;
        for (const auto& [g, x] : op.gradient->gradients) grads.push_back(g + "=d/d" + x);
        for (const auto& [t, from] : op.gradient->saved) saved.push_back(t);
        std::cout << " (of " << op.gradient->forward << ": " << join(grads, ", ");
        if (!saved.empty()) std::cout << "; saved by the forward pass: " << join(saved, ", ");
        std::cout << ")";
      }
      std::cout << "\n";
      std::cout << "    tensors:";
      bool accumulates = false;
      for (const auto& t : op.tensors) {
        // "->+=" marks an accumulate-into output (a gradient summed into its buffer).
        std::cout << " " << (t.output ? (t.accumulate ? "->+=" : "->") : "") << t.name << "["
                  << join(t.dims) << "]";
        // A tensor whose dtype is not the case's says which it keeps (statistics in f32).
        if (t.fixed_dtype) std::cout << ":" << dtype_name(*t.fixed_dtype);
        accumulates = accumulates || (t.output && t.accumulate);
      }
      if (accumulates) {
        std::cout
            << "\n    (->+= accumulate-into: kernels add to the buffer; the harness zeroes it "
               "before each timed call, outside the timed region)";
      }
      const std::vector<DType> quick =
          op.quick_dtypes.empty() ? std::vector<DType>{DType::f32} : op.quick_dtypes;
      std::cout << "\n    dtypes: " << dtype_list(op.dtypes) << " (quick " << dtype_list(quick)
                << ")";
      std::cout << "\n    axes:";
      for (const auto& a : op.axes) {
        std::cout << " " << a.name << "=" << join(a.quick) << " (full " << join(a.full) << ")";
      }
      std::cout << "\n    impls:";
      for (const auto& i : op.impls) {
        if (!in(s.impls, i.name) || !in(s.backends, i.backend)) continue;
        const Backend* b = reg.find_backend(i.backend);
        std::cout << " " << i.name;
        // An implementation that does not cover every dtype of the op names the ones it does.
        if (i.dtypes != op.dtypes) std::cout << "[" << dtype_list(i.dtypes) << "]";
        if (b && !b->status().available) std::cout << " (unavailable here)";
      }
      std::cout << "\n";
    }
  }
  return kExitOk;
}

}  // namespace opbench::cli
