#pragma once
// Parameter axes (nvbench-style) and one point of a sweep.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace opbench {

// One named axis of an op: its kind and the values of the quick and the full sweep.
// Values are kept as text; integer axes are validated when parsed (positive, no overflow) and
// accept powers of two written as 2^k.
struct Axis {
  enum class Kind { integer, text };
  std::string name;
  Kind kind = Kind::integer;
  std::vector<std::string> quick;
  std::vector<std::string> full;
  std::string help;
};

// One point: a value for every axis of the op, in the op's axis order.
class Params {
 public:
  void set(const std::string& name, std::string value);
  bool has(const std::string& name) const;
  const std::string& str(const std::string& name) const;  // throws std::out_of_range
  std::int64_t i(const std::string& name) const;          // the value as an integer
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }
  // "rows:64/cols:4096/dist:normal", the tail of a benchmark name.
  std::string path() const;
  bool operator==(const Params& o) const { return items_ == o.items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Parses "1024,4096,2^12" (integer axis) or "normal,offset" (text axis); throws UsageError naming
// the axis and the bad value.
std::vector<std::string> parse_axis_values(const Axis& axis, const std::string& text);

}  // namespace opbench
