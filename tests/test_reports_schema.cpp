// reports/json_schema: the validator that makes the report schema file the one definition of a
// valid report. Each keyword on a small schema of its own, hand-written, with the path and words
// of the first problem; a schema with a keyword it does not know is refused, not half-checked.
#include <gtest/gtest.h>

#include <stdexcept>

#include "reports/json_schema.hpp"

namespace {

using nlohmann::json;
using opbench::reports::JsonSchema;

std::string check(const char* schema, const char* doc) {
  return JsonSchema(json::parse(schema)).validate(json::parse(doc));
}

TEST(JsonSchema, TypesRequiredAndPaths) {
  const char* s = R"({"type": "object", "required": ["a", "b"],
                      "properties": {"a": {"type": "integer"},
                                     "b": {"type": "array", "items": {"type": ["number", "null"]}}}})";
  EXPECT_EQ(check(s, R"({"a": 3, "b": [1.5, null]})"), "");
  EXPECT_EQ(check(s, R"({"a": 3.0, "b": []})"), "");  // 3.0 is an integer, as in JSON Schema
  EXPECT_EQ(check(s, R"({"b": []})"), "a: missing");
  EXPECT_EQ(check(s, R"({"a": 3.5, "b": []})"), "a: expected an integer, got number");
  EXPECT_EQ(check(s, R"({"a": 1, "b": [1, "x"]})"), "b[1]: expected a number or null, got string");
  EXPECT_EQ(check(s, R"([])"), "(top level): expected an object, got array");
}

TEST(JsonSchema, MapsEnumsConstsBoundsAndRefs) {
  const char* s = R"({"$defs": {"level": {"enum": ["low", "high"]}},
                      "type": "object",
                      "additionalProperties": {"type": "object", "required": ["n"],
                        "properties": {"n": {"minimum": 1, "maximum": 9},
                                       "v": {"const": 2}, "l": {"$ref": "#/$defs/level"}}}})";
  EXPECT_EQ(check(s, R"({"x": {"n": 3, "v": 2, "l": "low"}})"), "");
  EXPECT_EQ(check(s, R"({"norm/a:1": {"n": 0}})"), "[\"norm/a:1\"].n: expected at least 1, got 0");
  EXPECT_EQ(check(s, R"({"x": {"n": 10}})"), "x.n: expected at most 9, got 10");
  EXPECT_EQ(check(s, R"({"x": {"n": 1, "v": 3}})"), "x.v: expected 2, got 3");
  EXPECT_EQ(check(s, R"({"x": {"n": 1, "l": "mid"}})"),
            "x.l: expected one of low, high, got \"mid\"");
}

TEST(JsonSchema, OneOfAllOfAndIfThen) {
  const char* s = R"({"type": "object",
     "properties": {
       "t": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["s"]}]},
       "e": {"if": {"required": ["op"]}, "then": {"allOf": [{"required": ["impl"]}]}}}})";
  EXPECT_EQ(check(s, R"({"t": null, "e": {}})"), "");
  EXPECT_EQ(check(s, R"({"t": {"s": 1}, "e": {"op": 1, "impl": 2}})"), "");
  // The branch of the value's own type says what is wrong.
  EXPECT_EQ(check(s, R"({"t": {}})"), "t.s: missing");
  EXPECT_EQ(check(s, R"({"t": 3})"), "t: expected null or an object, got integer");
  EXPECT_EQ(check(s, R"({"e": {"op": 1}})"), "e.impl: missing");
}

TEST(JsonSchema, AKeywordItDoesNotKnowIsRefused) {
  EXPECT_THROW(JsonSchema(json::parse(R"({"type": "string", "pattern": "^a"})")),
               std::invalid_argument);
  EXPECT_THROW(JsonSchema(json::parse(R"({"$ref": "https://example.com/s.json"})")),
               std::invalid_argument);
}

}  // namespace
