#include "harness/params.hpp"

#include <cctype>
#include <charconv>
#include <limits>
#include <stdexcept>

#include "harness/errors.hpp"

namespace opbench {

void Params::set(const std::string& name, std::string value) {
  for (auto& [k, v] : items_) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  items_.emplace_back(name, std::move(value));
}

bool Params::has(const std::string& name) const {
  for (const auto& kv : items_) {
    if (kv.first == name) return true;
  }
  return false;
}

const std::string& Params::str(const std::string& name) const {
  for (const auto& kv : items_) {
    if (kv.first == name) return kv.second;
  }
  throw std::out_of_range("no parameter named '" + name + "'");
}

std::int64_t Params::i(const std::string& name) const {
  const std::string& s = str(name);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    throw std::invalid_argument("parameter '" + name + "' is not an integer: '" + s + "'");
  }
  return v;
}

std::string Params::path() const {
  std::string out;
  for (const auto& [k, v] : items_) {
    if (!out.empty()) out += "/";
    out += k + ":" + v;
  }
  return out;
}

namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// "4096" or "2^12" -> "4096"; anything else (zero, negative, overflow, junk) is a UsageError.
std::string parse_positive_integer(const Axis& axis, const std::string& text) {
  auto bad = [&](const std::string& why) {
    return UsageError("axis '" + axis.name + "': value '" + text + "' " + why);
  };
  auto parse = [&](const std::string& s) {
    std::int64_t v = 0;
    if (s.empty() || s[0] == '+') throw bad("is not a positive integer");
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range) throw bad("overflows a 64-bit integer");
    if (ec != std::errc() || end != s.data() + s.size()) {
      throw bad("is not a positive integer (expected e.g. 1024 or 2^10)");
    }
    return v;
  };
  std::int64_t value;
  if (auto caret = text.find('^'); caret != std::string::npos) {
    std::int64_t base = parse(text.substr(0, caret));
    std::int64_t exp = parse(text.substr(caret + 1));
    if (base != 2) throw bad("is not a power of two (only 2^k is accepted)");
    if (exp < 0 || exp > 62) throw bad("overflows a 64-bit integer");
    value = std::int64_t{1} << exp;
  } else {
    value = parse(text);
  }
  if (value <= 0) throw bad("must be positive");
  return std::to_string(value);
}

}  // namespace

std::vector<std::string> parse_axis_values(const Axis& axis, const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    std::string item =
        trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (item.empty()) {
      throw UsageError("axis '" + axis.name + "': empty value in '" + text + "'");
    }
    if (axis.kind == Axis::Kind::integer) {
      out.push_back(parse_positive_integer(axis, item));
    } else {
      for (char c : item) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
          throw UsageError("axis '" + axis.name + "': value '" + item +
                           "' may only hold letters, digits, '_', '-' and '.'");
        }
      }
      out.push_back(item);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace opbench
