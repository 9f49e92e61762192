#include "harness/registry.hpp"

#include <algorithm>
#include <stdexcept>

#include "harness/errors.hpp"

namespace opbench {

namespace {
// The reference as an implementation: listed with each point's cases, computed once per dataset
// by the runner, compared with nothing and not timed.
Impl reference_impl(const Op& op) {
  Impl ref;
  ref.name = "ref";
  ref.backend = "ref";
  ref.dtypes = op.dtypes;
  ref.is_reference = true;
  ref.bind = bind_host(op.reference);
  return ref;
}
}  // namespace

Registry::Registry() {
  add_backend(make_reference_backend());
  add_backend(make_host_backend());
  add_backend(make_cuda_backend());
}

Op& Registry::add_op(Op op) {
  for (const Op& o : ops_) {
    if (o.name == op.name) throw std::logic_error("op registered twice: " + op.name);
  }
  if (!op.reference) throw std::logic_error("op without a reference: " + op.name);
  if (!op.sample_axis.empty()) {
    if (!op.find_axis(op.sample_axis) || !op.reference_flops) {
      throw std::logic_error(op.name + ": sample axis needs a declared axis and reference_flops");
    }
    for (const auto& t : op.tensors) {
      if (t.output && (t.dims.empty() || t.dims.front() != op.sample_axis)) {
        throw std::logic_error(op.name + ": output " + t.name + " must lead with the sample axis");
      }
    }
  }
  op.impls.insert(op.impls.begin(), reference_impl(op));
  ops_.push_back(std::move(op));
  return ops_.back();
}

void Registry::add_impl(const std::string& suite, const std::string& op, Impl impl) {
  for (Op& o : ops_) {
    if (o.suite == suite && o.name == op) {
      if (o.find_impl(impl.name)) throw std::logic_error("impl registered twice: " + impl.name);
      o.impls.push_back(std::move(impl));
      return;
    }
  }
  throw UsageError("cannot add an implementation to unknown op " + suite + "/" + op);
}

void Registry::add_backend(std::unique_ptr<Backend> backend) {
  for (auto& b : backends_) {
    if (b->name() == backend->name()) {
      b = std::move(backend);
      return;
    }
  }
  backends_.push_back(std::move(backend));
}

void Registry::set_peer_status(BackendStatus status) {
  for (auto& p : peers_) {
    if (p.name == status.name) {
      p = std::move(status);
      return;
    }
  }
  peers_.push_back(std::move(status));
}

std::vector<std::string> Registry::suite_names() const {
  std::vector<std::string> out;
  for (const Op& o : ops_) {
    if (std::find(out.begin(), out.end(), o.suite) == out.end()) out.push_back(o.suite);
  }
  return out;
}

const Op* Registry::find_op(const std::string& name) const {
  for (const Op& o : ops_) {
    if (o.name == name || o.full_name() == name) return &o;
  }
  return nullptr;
}

const Backend* Registry::find_backend(const std::string& name) const {
  for (const auto& b : backends_) {
    if (b->name() == name) return b.get();
  }
  return nullptr;
}

void Registry::add_device_note(const std::string& backend, std::string note) {
  device_notes_[backend].push_back(std::move(note));
}

std::vector<std::string> Registry::device_lines() const {
  std::vector<std::string> lines;
  for (const auto& b : backends_) {
    const auto notes = device_notes_.find(b->name());
    for (std::string d : b->devices()) {
      if (notes != device_notes_.end()) {
        for (const auto& n : notes->second) d += "; " + n;
      }
      lines.push_back(std::move(d));
    }
  }
  return lines;
}

}  // namespace opbench
