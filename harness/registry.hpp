#pragma once
// Suites -> ops -> implementations. Registration is explicit (register_norm_suite(Registry&) and
// friends, called from one list), so nothing is dropped by the linker. A project of its own can
// add a kernel to an existing op with add_impl() and get the same check, timing and report.
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/backend.hpp"
#include "harness/known_failures.hpp"
#include "harness/op.hpp"

namespace opbench {

class Registry {
 public:
  // Holds the built-in backends (ref, cpu, cuda) from the start.
  Registry();
  // Adds an op and its "ref" implementation; throws std::logic_error on a duplicate name.
  Op& add_op(Op op);
  // Adds an implementation to an op registered before; throws UsageError if the op is unknown.
  void add_impl(const std::string& suite, const std::string& op, Impl impl);
  // Adds (or replaces, by name) a backend.
  void add_backend(std::unique_ptr<Backend> backend);
  // A peer library's status ("onednn", "faiss"): not a backend (its kernels run on one), but
  // `list` shows whether it was built and why not.
  void set_peer_status(BackendStatus status);
  // What the kernels of a backend chose on this machine at run time, appended to that backend's
  // device lines ("16-bit conversions: bf16 avx512_bf16, f16 avx512f"), so a report says which
  // code its numbers come from.
  void add_device_note(const std::string& backend, std::string note);

  const std::deque<Op>& ops() const { return ops_; }
  std::vector<std::string> suite_names() const;
  const Op* find_op(const std::string& name) const;  // by op name ("layernorm") or suite/op
  const Backend* find_backend(const std::string& name) const;  // nullptr when none
  const std::vector<std::unique_ptr<Backend>>& backends() const { return backends_; }
  // Every backend's device lines ("cpu: AMD EPYC ...", "cuda:0: NVIDIA H200 ..."), as a report
  // records them.
  std::vector<std::string> device_lines() const;
  const std::vector<BackendStatus>& peers() const { return peers_; }
  // Cases expected to fail agreement, with the reason (suites load their manifest here).
  KnownFailures& known_failures() { return known_failures_; }
  const KnownFailures& known_failures() const { return known_failures_; }

 private:
  std::deque<Op> ops_;  // deque: references handed out stay valid
  std::vector<std::unique_ptr<Backend>> backends_;
  std::vector<BackendStatus> peers_;
  std::map<std::string, std::vector<std::string>> device_notes_;
  KnownFailures known_failures_;
};

}  // namespace opbench
