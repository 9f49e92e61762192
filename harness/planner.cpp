// plan_cases(): turns a selection (filters, axis overrides, user inputs) into the list of cases,
// refusing anything wrong with one line before a byte is allocated.
#include <algorithm>
#include <cstdint>
#include <set>
#include <sstream>
#include <stdexcept>

#include "harness/build_info.hpp"
#include "harness/errors.hpp"
#include "harness/runner.hpp"

namespace opbench {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool selected(const std::vector<std::string>& filter, const std::string& name) {
  return filter.empty() || std::find(filter.begin(), filter.end(), name) != filter.end();
}

// Every name in `filter` must be one of `known`; the error lists the known names.
void require_known(const char* what, const std::vector<std::string>& filter,
                   const std::vector<std::string>& known) {
  for (const auto& name : filter) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      throw UsageError(std::string("unknown ") + what + " '" + name + "'; known: " + join(known));
    }
  }
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

std::string format_bytes(double b) {
  std::ostringstream out;
  out.precision(3);
  if (b >= 1024.0 * 1024 * 1024) {
    out << b / (1024.0 * 1024 * 1024) << " GiB";
  } else {
    out << b / (1024.0 * 1024) << " MiB";
  }
  return out.str();
}

// Bytes a case at this point needs on the host: inputs in their dtype and as float64 for the
// reference, outputs of the implementation and of the reference (float64), and one more float64
// copy of the outputs for the comparison and the dump.
double host_bytes_needed(const Op& op, const Params& p, DType dtype) {
  double total = 0;
  for (const auto& t : op.tensors) {
    double n = 1;
    for (auto d : op.shape_of(t, p)) n *= static_cast<double>(d);
    const double size = static_cast<double>(dtype_size(t.dtype_in(dtype)));
    total += t.output ? n * (size + 16) : n * (size + 8.0);
  }
  return total;
}

// A case's tensors in their dtype and its implementation's scratch must fit the memory its
// backend can still give (device memory for a GPU): refused before anything is allocated.
void check_backend_memory(const Op& op, const Impl& impl, const Backend& backend, const Params& p,
                          DType dtype) {
  const double available = static_cast<double>(backend.memory_available());
  if (available <= 0) return;  // unknown
  double need = impl.scratch_bytes ? impl.scratch_bytes(p) : 0;
  for (const auto& t : op.tensors) {
    double n = 1;
    for (auto d : op.shape_of(t, p)) n *= static_cast<double>(d);
    need += n * static_cast<double>(dtype_size(t.dtype_in(dtype)));
  }
  if (need > 0.9 * available) {
    throw UsageError(op.full_name() + "/" + impl.name + " at " + p.path() + " needs " +
                     format_bytes(need) + " on " + backend.name() + "; it has " +
                     format_bytes(available) + " available (refused before allocating)");
  }
}

// A user's file of dtype `file` for a tensor of dtype `tensor`: the same dtype, or float32 for
// bfloat16 (numpy has none: the values are rounded, and the report says so).
bool input_file_fits(DType file, DType tensor) {
  return file == tensor || (file == DType::f32 && tensor == DType::bf16);
}

// The dtypes of `op` in which every .npy input of the selection has its tensor's dtype: an input
// file fixes the case's dtype as it fixes its shape (a float16 file, a float16 case).
std::vector<DType> dtypes_of_inputs(const Op& op, const Selection& sel, const DataProvider& data) {
  std::vector<DType> match;
  for (DType dt : op.dtypes) {
    bool all = true;
    for (const auto& [tensor, path] : sel.inputs) {
      const TensorDecl* decl = op.find_tensor(tensor);
      if (!decl || decl->output) continue;
      all = all && data.read_npy_header(path).dtype == decl->dtype_in(dt);  // exact match only
    }
    if (all) match.push_back(dt);
  }
  return match;
}

// Axis values fixed by a user's .npy inputs: each dim named after an axis takes the file's size.
std::map<std::string, std::string> axes_from_inputs(const Op& op, const Selection& sel,
                                                    const DataProvider& data, DType dtype) {
  std::map<std::string, std::string> fixed;
  for (const auto& [tensor, path] : sel.inputs) {
    const TensorDecl* decl = op.find_tensor(tensor);
    if (!decl) continue;  // applies to the selected ops that have this tensor
    if (decl->output) {
      throw UsageError("--input " + tensor + "=" + path + ": '" + tensor + "' is an output of " +
                       op.name + ", not an input");
    }
    NpyHeader h = data.read_npy_header(path);
    if (!input_file_fits(h.dtype, decl->dtype_in(dtype))) {
      throw UsageError(path + ": dtype " + std::string(dtype_name(h.dtype)) + ", but " + op.name +
                       "." + tensor + " is " + std::string(dtype_name(decl->dtype_in(dtype))));
    }
    if (h.shape.size() != decl->dims.size()) {
      throw UsageError(path + ": rank " + std::to_string(h.shape.size()) + " (shape " +
                       shape_string(h.shape) + "), but " + op.name + "." + tensor + " has rank " +
                       std::to_string(decl->dims.size()) + " [" + join(decl->dims) + "]");
    }
    for (std::size_t i = 0; i < decl->dims.size(); ++i) {
      const std::string& dim = decl->dims[i];
      if (h.shape[i] <= 0) {
        throw UsageError(path + ": dimension " + std::to_string(i) + " (" + dim + ") is zero");
      }
      if (!op.find_axis(dim)) continue;  // a literal or derived size: checked once axes are known
      std::string value = std::to_string(h.shape[i]);
      auto [it, inserted] = fixed.emplace(dim, value);
      if (!inserted && it->second != value) {
        throw UsageError("--input files disagree on axis '" + dim + "': " + it->second + " vs " +
                         value + " (" + path + ")");
      }
      if (auto ov = sel.axis_overrides.find(dim);
          ov != sel.axis_overrides.end() && ov->second != value) {
        throw UsageError("--axis " + dim + "=" + ov->second + " contradicts " + path +
                         ", whose shape " + shape_string(h.shape) + " sets " + dim + "=" + value);
      }
    }
  }
  return fixed;
}

// "" when the point's `dist` is one of the op's own scenarios (or the op has none), else why not.
std::string dist_not_a_scenario(const Op& op, const Params& p) {
  const Axis* axis = op.find_axis("dist");
  if (axis == nullptr || !p.has("dist")) return "";
  std::vector<std::string> mine;
  for (const auto& list : {axis->quick, axis->full}) {
    for (const auto& v : list) add_unique(mine, v);
  }
  if (std::find(mine.begin(), mine.end(), p.str("dist")) != mine.end()) return "";
  return "dist '" + p.str("dist") + "' is not a scenario of " + op.full_name() +
         " (its: " + join(mine) + ")";
}

void check_input_shapes(const Op& op, const Selection& sel, const DataProvider& data,
                        const Params& p) {
  for (const auto& [tensor, path] : sel.inputs) {
    const TensorDecl* decl = op.find_tensor(tensor);
    if (!decl) continue;
    Shape want = op.shape_of(*decl, p);
    Shape got = data.read_npy_header(path).shape;
    if (want != got) {
      throw UsageError(path + ": shape " + shape_string(got) + ", but " + op.name + "." + tensor +
                       " [" + join(decl->dims) + "] needs " + shape_string(want) + " here");
    }
  }
}

}  // namespace

std::vector<CasePlan> plan_cases(const Registry& reg, const Selection& sel,
                                 const DataProvider& data) {
  // 1. Names.
  std::vector<std::string> known_ops, known_impls, known_backends, known_axes, known_tensors;
  for (const Op& op : reg.ops()) {
    known_ops.push_back(op.name);
    for (const auto& impl : op.impls) add_unique(known_impls, impl.name);
  }
  // Every backend is a valid filter, also one that is not built or has no device here.
  std::vector<std::string> known_modes;
  for (const auto& b : reg.backends()) {
    add_unique(known_backends, b->name());
    for (const auto& m : b->timing_modes()) add_unique(known_modes, m);
  }
  require_known("timing mode", sel.timing_modes, known_modes);
  require_known("suite", sel.suites, reg.suite_names());
  require_known("op", sel.ops, known_ops);
  require_known("implementation", sel.impls, known_impls);
  require_known("backend", sel.backends, known_backends);
  std::vector<DType> dtypes;
  for (const auto& d : sel.dtypes) {
    auto t = parse_dtype(d);
    if (!t) throw UsageError("unknown dtype '" + d + "'; known: f32, f64, f16, bf16");
    dtypes.push_back(*t);
  }

  for (const auto& m : sel.modes) {
    if (!parse_mode(m)) throw UsageError("unknown mode '" + m + "'; known: fwd, bwd, fwd_bwd");
  }

  std::vector<const Op*> ops;
  for (const Op& op : reg.ops()) {
    if (selected(sel.suites, op.suite) && selected(sel.ops, op.name) &&
        selected(sel.modes, mode_name(op.mode))) {
      ops.push_back(&op);
    }
  }
  for (const Op* op : ops) {
    for (const auto& a : op->axes) add_unique(known_axes, a.name);
    for (const auto& t : op->tensors) {
      if (!t.output) add_unique(known_tensors, t.name);
    }
  }
  for (const auto& [axis, text] : sel.axis_overrides) {
    if (std::find(known_axes.begin(), known_axes.end(), axis) == known_axes.end()) {
      throw UsageError("unknown axis '" + axis +
                       "' for the selected ops; known: " + join(known_axes));
    }
  }
  for (const auto& [tensor, path] : sel.inputs) {
    if (std::find(known_tensors.begin(), known_tensors.end(), tensor) == known_tensors.end()) {
      throw UsageError("--input " + tensor + "=" + path + ": no selected op has an input named '" +
                       tensor + "'; inputs: " + join(known_tensors));
    }
  }

  // `dist` values: each family names its own scenarios on its dist axis (norm: the generic
  // distributions; scan: near_one, ...). A value no selected op knows is an error; a value only
  // some ops know skips the others' points, with the reason.
  std::vector<std::string> known_dists;
  for (const Op* op : ops) {
    if (const Axis* d = op->find_axis("dist")) {
      for (const auto& list : {d->quick, d->full}) {
        for (const auto& v : list) add_unique(known_dists, v);
      }
    }
  }
  bool dist_override_used = false;

  const double memory = static_cast<double>(available_memory_bytes());
  std::vector<CasePlan> plan;
  for (const Op* op : ops) {
    // 1. Dtypes: --dtype's; else those the user's .npy inputs are in; else the full sweep's (all
    // the op has) or the quick one's.
    const std::vector<DType> quick =
        op->quick_dtypes.empty() ? std::vector<DType>{DType::f32} : op->quick_dtypes;
    std::vector<DType> wanted = !dtypes.empty() ? dtypes : sel.full ? op->dtypes : quick;
    if (dtypes.empty() && !sel.inputs.empty()) {
      const std::vector<DType> of_files = dtypes_of_inputs(*op, sel, data);
      if (!of_files.empty()) wanted = of_files;  // else the first dtype's check says why not
    }
    for (DType dtype : op->dtypes) {
      if (std::find(wanted.begin(), wanted.end(), dtype) == wanted.end()) continue;
      // 2. Axis values: user's .npy shapes, then --axis, then the op's sweep.
      auto fixed = axes_from_inputs(*op, sel, data, dtype);
      std::vector<std::vector<std::string>> values;
      for (const Axis& axis : op->axes) {
        if (auto f = fixed.find(axis.name); f != fixed.end()) {
          values.push_back({f->second});
        } else if (auto ov = sel.axis_overrides.find(axis.name); ov != sel.axis_overrides.end()) {
          auto v = parse_axis_values(axis, ov->second);
          if (axis.name == "dist") {
            for (const auto& d : v) {
              if (std::find(known_dists.begin(), known_dists.end(), d) == known_dists.end()) {
                throw UsageError("axis 'dist': unknown distribution '" + d +
                                 "' for the selected ops; known: " + join(known_dists));
              }
            }
          }
          values.push_back(v);
        } else {
          values.push_back(sel.full && !axis.full.empty() ? axis.full : axis.quick);
        }
      }
      // 3. The Cartesian product, first axis slowest.
      std::size_t points = 1;
      for (const auto& v : values) points *= v.size();
      for (std::size_t k = 0; k < points; ++k) {
        Params p;
        for (std::size_t a = 0, rest = k; a < values.size(); ++a) {
          std::size_t stride = 1;
          for (std::size_t b = a + 1; b < values.size(); ++b) stride *= values[b].size();
          p.set(op->axes[a].name, values[a][rest / stride]);
          rest %= stride;
        }
        const std::string point_skip = dist_not_a_scenario(*op, p);
        if (point_skip.empty() && p.has("dist") && sel.axis_overrides.count("dist")) {
          dist_override_used = true;
        }
        if (!point_skip.empty()) {
          // Listed, not run: this family has no such scenario.
        } else if (op->validate) {
          if (std::string why = op->validate(p); !why.empty()) {
            throw UsageError(op->full_name() + " at " + p.path() + ": " + why);
          }
        }
        if (point_skip.empty()) {
          for (const auto& t : op->tensors) shape_numel(op->shape_of(t, p));  // overflow check
          check_input_shapes(*op, sel, data, p);
        }
        double need = point_skip.empty() ? host_bytes_needed(*op, p, dtype) : 0;
        if (memory > 0 && need > 0.9 * memory) {
          throw UsageError(op->full_name() + " at " + p.path() + " needs " + format_bytes(need) +
                           " of memory; this machine has " + format_bytes(memory) +
                           " available (refused before allocating)");
        }
        const std::string key = op->full_name() + "/" + std::string(dtype_name(dtype)) +
                                (p.items().empty() ? "" : "/" + p.path());
        for (const Impl& impl : op->impls) {
          if (!selected(sel.impls, impl.name) || !selected(sel.backends, impl.backend)) continue;
          if (std::find(impl.dtypes.begin(), impl.dtypes.end(), dtype) == impl.dtypes.end()) {
            continue;
          }
          const Backend* backend = reg.find_backend(impl.backend);
          if (backend == nullptr) {
            throw std::logic_error(op->full_name() + "/" + impl.name + ": backend '" +
                                   impl.backend + "' is not registered");
          }
          CasePlan c;
          c.op = op;
          c.impl = &impl;
          c.backend = backend;
          c.dtype = dtype;
          c.params = p;
          c.dataset_key = key;
          c.name = op->full_name() + "/" + impl.name + "/" + std::string(dtype_name(dtype)) +
                   (p.items().empty() ? "" : "/" + p.path());
          c.skip_reason = point_skip;
          if (c.skip_reason.empty() && impl.unsupported) c.skip_reason = impl.unsupported(p);
          if (c.skip_reason.empty()) {
            if (const BackendStatus st = backend->status(); !st.available) {
              c.skip_reason = st.detail;
            }
          }
          if (c.skip_reason.empty()) check_backend_memory(*op, impl, *backend, p, dtype);
          std::vector<std::string> modes = backend->timing_modes();
          if (modes.empty()) modes = {""};
          for (const std::string& mode : modes) {
            if (!mode.empty() && !selected(sel.timing_modes, mode)) continue;
            CasePlan m = c;
            m.timing_mode = mode;
            if (modes.size() > 1) m.name += "/mode:" + mode;
            plan.push_back(std::move(m));
          }
        }
      }
    }
  }
  if (sel.axis_overrides.count("dist") && !dist_override_used && !plan.empty()) {
    throw UsageError("axis 'dist': " + plan.front().skip_reason);
  }
  if (plan.empty()) {
    throw UsageError(
        "the selection matches no case (check --suite, --op, --impl, --backend, "
        "--dtype, --mode)");
  }
  return plan;
}

}  // namespace opbench
