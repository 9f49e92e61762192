#pragma once
// Known failures: cases that fail agreement for a reason outside the kernel under test (a peer
// library's float32 statistics, the limits of a formulation), each listed in a manifest in the
// repository with that reason. A listed case that fails is `xfail`, not `fail`; one that passes
// is reported (the entry is stale), never a red CI.
#include <string>
#include <vector>

namespace opbench {

struct KnownFailure {
  std::string pattern;  // a case name; '*' stands for any run of characters (slashes included)
  std::string reason;
  std::string source;  // where the entry was read: "suites/known_failures.json"
};

// Whether `text` matches `pattern`, where '*' matches any run of characters.
bool glob_match(const std::string& pattern, const std::string& text);

class KnownFailures {
 public:
  void add(KnownFailure f);
  // Reads a manifest: {"known_failures": [{"case": PATTERN, "reason": TEXT}, ...]}. Throws
  // std::runtime_error naming `source` and the entry on anything else.
  void load_json(const std::string& text, const std::string& source);
  // The first entry whose pattern matches `case_name` or the part of it before one of its '/'
  // (".../dist:uniform" names ".../dist:uniform/mode:hot" too), or nullptr.
  const KnownFailure* match(const std::string& case_name) const;
  const std::vector<KnownFailure>& entries() const { return entries_; }

 private:
  std::vector<KnownFailure> entries_;
};

}  // namespace opbench
