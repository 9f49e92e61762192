#pragma once
// Reading a report document defensively and formatting its numbers; shared by the console summary
// and the HTML page. A missing or mistyped field gives a fallback, never a throw.
#include <nlohmann/json.hpp>
#include <string>

namespace opbench::reports::view {

// A case whose noise (coefficient of variation, in percent) is over this gets a warning.
inline constexpr double kNoiseWarnPercent = 5.0;

// An empty JSON object that lives forever (a fallback to return by reference).
const nlohmann::json& empty_object();

// obj[key], or an empty object when `obj` is not an object or has no such key.
const nlohmann::json& member(const nlohmann::json& obj, const char* key);

// A string, or `fallback` when absent or not a string.
std::string str(const nlohmann::json& obj, const char* key, const std::string& fallback = "");

// A number, or NaN when absent or null.
double number(const nlohmann::json& obj, const char* key);

// A boolean, false when absent or not a boolean.
bool boolean(const nlohmann::json& obj, const char* key);

// A scalar as text: strings as they are, other values as JSON.
std::string scalar_text(const nlohmann::json& v);

// `v` through snprintf with the one-number format `fmt`.
std::string printf_string(const char* fmt, double v);

// `v` with about `digits` significant digits, never in exponent form: 335.9, 1.234, 12345.
std::string significant(double v, int digits = 4);

// A time in ns, `micro` (the symbol of microseconds), ms or s, whichever fits; "-" when unknown.
std::string format_time(double seconds, const char* micro = "us");

// 2129920 bytes -> "2.03 MiB"; 2.1e9 flops -> "2.15 GFLOP".
std::string format_scaled(double v, const char* unit, bool binary);

// Seconds per unit of Google Benchmark's "time_unit"; 0 when unknown.
double unit_seconds(const std::string& unit);

// The real time of a Google Benchmark entry in seconds; 0 when unknown or the entry is an error.
double entry_seconds(const nlohmann::json& e);

// The parameter point of a case as "rows=64 cols=4096", in axis order: taken from the end of the
// case name (".../f32/rows:64/cols:4096"), else from the params object.
std::string compact_params(const nlohmann::json& c);

// A case the planner listed but did not run (its backend has no device here, or the
// implementation does not support the point): its error starts with "skipped: ".
bool is_skip(const std::string& error);

}  // namespace opbench::reports::view
