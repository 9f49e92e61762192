#include "reports/report_view.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace opbench::reports::view {

using nlohmann::json;

const json& empty_object() {
  static const json kEmpty = json::object();
  return kEmpty;
}

const json& member(const json& obj, const char* key) {
  if (!obj.is_object()) return empty_object();
  auto it = obj.find(key);
  return it != obj.end() ? *it : empty_object();
}

std::string str(const json& obj, const char* key, const std::string& fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

double number(const json& obj, const char* key) {
  if (!obj.is_object()) return NAN;
  auto it = obj.find(key);
  return it != obj.end() && it->is_number() ? it->get<double>() : NAN;
}

bool boolean(const json& obj, const char* key) {
  if (!obj.is_object()) return false;
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

std::string scalar_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string printf_string(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string significant(double v, int digits) {
  if (!std::isfinite(v)) return "-";
  int before = v == 0 ? 1 : static_cast<int>(std::floor(std::log10(std::abs(v)))) + 1;
  int decimals = std::clamp(digits - before, 0, 9);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string format_time(double seconds, const char* micro) {
  if (!(seconds > 0) || !std::isfinite(seconds)) return "-";
  if (seconds < 1e-6) return significant(seconds * 1e9) + " ns";
  if (seconds < 1e-3) return significant(seconds * 1e6) + " " + micro;
  if (seconds < 1) return significant(seconds * 1e3) + " ms";
  return significant(seconds) + " s";
}

std::string format_scaled(double v, const char* unit, bool binary) {
  if (!(v > 0) || !std::isfinite(v)) return "-";
  const char* decimal[] = {"", "K", "M", "G", "T", "P"};
  const char* twos[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
  const double base = binary ? 1024 : 1000;
  int i = 0;
  while (v >= base && i < 5) {
    v /= base;
    ++i;
  }
  return significant(v, 3) + " " + (binary ? twos[i] : decimal[i]) + unit;
}

double unit_seconds(const std::string& unit) {
  if (unit == "ns") return 1e-9;
  if (unit == "us") return 1e-6;
  if (unit == "ms") return 1e-3;
  if (unit == "s") return 1;
  return 0;
}

double entry_seconds(const json& e) {
  double t = number(e, "real_time") * unit_seconds(str(e, "time_unit", "ns"));
  return std::isfinite(t) && t > 0 && !boolean(e, "error_occurred") ? t : 0;
}

std::string compact_params(const json& c) {
  std::string name = str(c, "name");
  std::string prefix =
      str(c, "suite") + "/" + str(c, "op") + "/" + str(c, "impl") + "/" + str(c, "dtype") + "/";
  std::string out;
  if (!name.empty() && name.rfind(prefix, 0) == 0) {
    std::string tail = name.substr(prefix.size());
    std::size_t start = 0;
    while (start <= tail.size()) {
      std::size_t slash = std::min(tail.find('/', start), tail.size());
      std::string part = tail.substr(start, slash - start);
      if (auto colon = part.find(':'); colon != std::string::npos) part[colon] = '=';
      if (!part.empty()) out += (out.empty() ? "" : " ") + part;
      start = slash + 1;
    }
    return out;
  }
  const json& params = member(c, "params");
  if (params.is_object()) {
    for (const auto& [k, v] : params.items()) {
      out += (out.empty() ? "" : " ") + k + "=" + scalar_text(v);
    }
  }
  return out;
}

bool is_skip(const std::string& error) {
  return error.rfind("skipped: ", 0) == 0;
}

}  // namespace opbench::reports::view
