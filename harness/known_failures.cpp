#include "harness/known_failures.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace opbench {

bool glob_match(const std::string& pattern, const std::string& text) {
  // Iterative wildcard match: on a mismatch, let the last '*' swallow one more character.
  std::size_t p = 0, t = 0, star = std::string::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

void KnownFailures::add(KnownFailure f) {
  if (f.pattern.empty()) throw std::invalid_argument("known failure with an empty case pattern");
  if (f.reason.empty()) {
    throw std::invalid_argument("known failure '" + f.pattern + "' gives no reason");
  }
  entries_.push_back(std::move(f));
}

void KnownFailures::load_json(const std::string& text, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(source + ": not valid JSON (" + e.what() + ")");
  }
  if (!doc.is_object() || !doc.contains("known_failures") || !doc["known_failures"].is_array()) {
    throw std::runtime_error(source + ": expected {\"known_failures\": [...]}");
  }
  std::size_t i = 0;
  for (const auto& e : doc["known_failures"]) {
    const std::string where = source + ": known_failures[" + std::to_string(i++) + "]";
    if (!e.is_object() || !e.contains("case") || !e["case"].is_string() || !e.contains("reason") ||
        !e["reason"].is_string()) {
      throw std::runtime_error(where + ": expected {\"case\": PATTERN, \"reason\": TEXT}");
    }
    try {
      add({e["case"].get<std::string>(), e["reason"].get<std::string>(), source});
    } catch (const std::invalid_argument& err) {
      throw std::runtime_error(where + ": " + err.what());
    }
  }
}

const KnownFailure* KnownFailures::match(const std::string& case_name) const {
  for (const KnownFailure& f : entries_) {
    // The whole name, then the name cut before each of its later '/': a pattern that names a
    // case also names its variants (a CUDA case's "/mode:hot" and "/mode:cold").
    if (glob_match(f.pattern, case_name)) return &f;
    for (std::size_t cut = case_name.rfind('/'); cut != std::string::npos && cut > 0;
         cut = case_name.rfind('/', cut - 1)) {
      if (glob_match(f.pattern, case_name.substr(0, cut))) return &f;
    }
  }
  return nullptr;
}

}  // namespace opbench
