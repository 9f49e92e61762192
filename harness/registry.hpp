#pragma once
// Suites -> ops -> implementations. Registration is explicit (register_norm_suite(Registry&) and
// friends, called from one list), so nothing is dropped by the linker. A project of its own can
// add a kernel to an existing op with add_impl() and get the same check, timing and report.
#include <deque>
#include <string>
#include <vector>

#include "harness/known_failures.hpp"
#include "harness/op.hpp"

namespace opbench {

// A backend or peer and whether it can run here, with the reason when not.
struct BackendStatus {
  std::string name;  // "cpu", "cuda", "onednn"
  bool available = false;
  std::string detail;  // "AMD EPYC, 2 threads" or "not built: nvcc was not found at configure time"
};

class Registry {
 public:
  // Adds an op and its "ref" implementation; throws std::logic_error on a duplicate name.
  Op& add_op(Op op);
  // Adds an implementation to an op registered before; throws UsageError if the op is unknown.
  void add_impl(const std::string& suite, const std::string& op, Impl impl);
  void set_backend_status(BackendStatus status);

  const std::deque<Op>& ops() const { return ops_; }
  std::vector<std::string> suite_names() const;
  const Op* find_op(const std::string& name) const;  // by op name ("layernorm") or suite/op
  const std::vector<BackendStatus>& backends() const { return backends_; }
  const BackendStatus* backend(const std::string& name) const;
  // Cases expected to fail agreement, with the reason (suites load their manifest here).
  KnownFailures& known_failures() { return known_failures_; }
  const KnownFailures& known_failures() const { return known_failures_; }

 private:
  std::deque<Op> ops_;  // deque: references handed out stay valid
  std::vector<BackendStatus> backends_;
  KnownFailures known_failures_;
};

}  // namespace opbench
