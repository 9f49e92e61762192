#include "reports/json_schema.hpp"

#include <cctype>
#include <cmath>
#include <set>
#include <stdexcept>
#include <vector>

namespace opbench::reports {

using nlohmann::json;

namespace {

const std::set<std::string>& known_keywords() {
  static const std::set<std::string> known = {"$schema",     "$id",        "title",
                                              "description", "$defs",      "type",
                                              "required",    "properties", "additionalProperties",
                                              "items",       "enum",       "const",
                                              "minimum",     "maximum",    "$ref",
                                              "allOf",       "oneOf",      "if",
                                              "then",        "else"};
  return known;
}

// Every subschema uses only keywords validate() knows.
void check_keywords(const json& s, const std::string& where) {
  if (s.is_boolean()) return;
  if (!s.is_object()) throw std::invalid_argument(where + ": a schema must be an object");
  for (const auto& [key, value] : s.items()) {
    if (!known_keywords().count(key)) {
      throw std::invalid_argument(where + ": unsupported keyword '" + key + "'");
    }
    if (key == "properties" || key == "$defs") {
      for (const auto& [name, sub] : value.items())
        check_keywords(sub, where + "/" + key + "/" + name);
    } else if (key == "additionalProperties" || key == "items" || key == "if" || key == "then" ||
               key == "else") {
      check_keywords(value, where + "/" + key);
    } else if (key == "allOf" || key == "oneOf") {
      for (std::size_t i = 0; i < value.size(); ++i) {
        check_keywords(value[i], where + "/" + key + "/" + std::to_string(i));
      }
    } else if (key == "$ref" && value.get<std::string>().rfind("#/$defs/", 0) != 0) {
      throw std::invalid_argument(where + ": only local $ref (#/$defs/...) is supported");
    }
  }
}

bool has_type(const json& v, const std::string& type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_boolean();
  if (type == "string") return v.is_string();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  if (type == "number") return v.is_number();
  if (type == "integer") {  // as in JSON Schema, 3.0 is an integer
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    const double d = v.get<double>();
    return std::isfinite(d) && d == std::floor(d);
  }
  return false;
}

std::string article(const std::string& type) {
  if (type == "null") return "null";
  if (type == "integer" || type == "object" || type == "array") return "an " + type;
  return "a " + type;
}

std::string scalar_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

class Walker {
 public:
  explicit Walker(const json& root) : root_(root) {}
  std::string problem;

  bool validate(const json& v, const json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (!s.get<bool>()) return fail(label(path) + ": not allowed here");
      return true;
    }
    if (auto ref = s.find("$ref"); ref != s.end()) {
      if (!validate(v, resolve(ref->get<std::string>()), path)) return false;
    }
    if (auto type = s.find("type"); type != s.end()) {
      std::vector<std::string> types;
      if (type->is_string()) {
        types.push_back(type->get<std::string>());
      } else {
        for (const auto& t : *type) types.push_back(t.get<std::string>());
      }
      bool ok = false;
      for (const auto& t : types) ok = ok || has_type(v, t);
      if (!ok) {
        std::string expected;
        for (std::size_t i = 0; i < types.size(); ++i) {
          expected += (i ? " or " : "") + article(types[i]);
        }
        return fail(label(path) + ": expected " + expected + ", got " + json_type_name(v));
      }
    }
    if (auto c = s.find("const"); c != s.end() && v != *c) {
      return fail(label(path) + ": expected " + c->dump() + ", got " + v.dump());
    }
    if (auto e = s.find("enum"); e != s.end()) {
      bool found = false;
      std::string names;
      for (const auto& option : *e) {
        found = found || v == option;
        names += (names.empty() ? "" : ", ") + scalar_text(option);
      }
      if (!found) return fail(label(path) + ": expected one of " + names + ", got " + v.dump());
    }
    if (v.is_number()) {
      if (auto m = s.find("minimum"); m != s.end() && v.get<double>() < m->get<double>()) {
        return fail(label(path) + ": expected at least " + m->dump() + ", got " + v.dump());
      }
      if (auto m = s.find("maximum"); m != s.end() && v.get<double>() > m->get<double>()) {
        return fail(label(path) + ": expected at most " + m->dump() + ", got " + v.dump());
      }
    }
    if (v.is_object()) {
      if (auto req = s.find("required"); req != s.end()) {
        for (const auto& name : *req) {
          if (!v.contains(name.get<std::string>())) {
            return fail(child(path, name.get<std::string>()) + ": missing");
          }
        }
      }
      const json* props = s.contains("properties") ? &s.at("properties") : nullptr;
      if (props) {
        for (const auto& [name, sub] : props->items()) {
          if (auto it = v.find(name); it != v.end() && !validate(*it, sub, child(path, name))) {
            return false;
          }
        }
      }
      if (auto extra = s.find("additionalProperties"); extra != s.end()) {
        for (const auto& [key, value] : v.items()) {
          if (props && props->contains(key)) continue;
          if (!validate(value, *extra, member_path(path, key))) return false;
        }
      }
    }
    if (v.is_array()) {
      if (auto items = s.find("items"); items != s.end()) {
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (!validate(v[i], *items, path + "[" + std::to_string(i) + "]")) return false;
        }
      }
    }
    if (auto all = s.find("allOf"); all != s.end()) {
      for (const auto& sub : *all) {
        if (!validate(v, sub, path)) return false;
      }
    }
    if (auto one = s.find("oneOf"); one != s.end() && !one_of(v, *one, path)) return false;
    if (auto cond = s.find("if"); cond != s.end()) {
      Walker probe(root_);
      const bool holds = probe.validate(v, *cond, path);
      if (holds && s.contains("then") && !validate(v, s.at("then"), path)) return false;
      if (!holds && s.contains("else") && !validate(v, s.at("else"), path)) return false;
    }
    return true;
  }

 private:
  bool fail(std::string p) {
    if (problem.empty()) problem = std::move(p);
    return false;
  }

  static std::string label(const std::string& path) { return path.empty() ? "(top level)" : path; }
  static std::string child(const std::string& path, const std::string& name) {
    return path.empty() ? name : path + "." + name;
  }
  // A key of a map-like object: ".rows" when it reads as a name, else ["norm/layernorm/..."].
  static std::string member_path(const std::string& path, const std::string& key) {
    bool name = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0]));
    for (unsigned char ch : key) name = name && (std::isalnum(ch) || ch == '_');
    return name ? child(path, key) : path + "[\"" + key + "\"]";
  }

  const json& resolve(const std::string& ref) const {
    const std::string name = ref.substr(std::string("#/$defs/").size());
    return root_.at("$defs").at(name);
  }

  // Exactly one branch must hold. When none does, the problem reported is that of the branch
  // whose declared type the value has (the null-or-object choices of the report), else a list.
  bool one_of(const json& v, const json& branches, const std::string& path) {
    int holding = 0;
    std::string typed_problem;
    std::vector<std::string> declared;
    for (const auto& b : branches) {
      Walker w(root_);
      if (w.validate(v, b, path)) {
        ++holding;
        continue;
      }
      const json& resolved = b.contains("$ref") ? resolve(b.at("$ref").get<std::string>()) : b;
      if (auto t = resolved.find("type"); t != resolved.end() && t->is_string()) {
        declared.push_back(article(t->get<std::string>()));
        if (has_type(v, t->get<std::string>()) && typed_problem.empty()) typed_problem = w.problem;
      }
    }
    if (holding == 1) return true;
    if (holding > 1) return fail(label(path) + ": matches more than one choice of the schema");
    if (!typed_problem.empty()) return fail(typed_problem);
    std::string expected;
    for (std::size_t i = 0; i < declared.size(); ++i) expected += (i ? " or " : "") + declared[i];
    return fail(label(path) + ": expected " + (expected.empty() ? "another value" : expected) +
                ", got " + json_type_name(v));
  }

  const json& root_;
};

}  // namespace

std::string json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "binary";
  }
}

JsonSchema::JsonSchema(json schema) : schema_(std::move(schema)) {
  check_keywords(schema_, "#");
}

std::string JsonSchema::validate(const json& doc) const {
  Walker w(schema_);
  w.validate(doc, schema_, "");
  return w.problem;
}

}  // namespace opbench::reports
