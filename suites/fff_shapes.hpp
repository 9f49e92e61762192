#pragma once
// The fff family's shapes from a case's parameters, shared by the forward ops (suites/fff.cpp)
// and their backward ops (suites/fff_backward.cpp): the dims, the node tensors' rows, and the
// depth axis with its check.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "harness/op.hpp"
#include "kernels/cpu/fff_types.hpp"
#include "reference/fff.hpp"
#include "suites/common.hpp"

namespace opbench::suite::fff_shapes {

// Weights like the packages' initialisations (uniform +-1/sqrt(fan_in), std ~0.036 at 768), fixed
// so that a shape does not change the distribution: decision values and outputs stay O(1).
inline constexpr const char* kWeight = "normal(0,0.05)";

// The deepest tree any fff op accepts (2^20 leaves).
inline constexpr std::int64_t kMaxDepth = 20;

inline std::int64_t pow2(std::int64_t k) {
  return std::int64_t{1} << k;
}

inline fff::Dims dims_of(const Params& p) {
  fff::Dims d;
  d.d_in = p.i("d_in");
  d.d_out = p.i("d_out");
  d.depth = p.i("depth");
  d.node_width = p.has("node_width") ? p.i("node_width") : 1;
  d.leaf_width = p.has("leaf_width") ? p.i("leaf_width") : 1;
  return d;
}

inline ref::FffShape shape64(const fff::Dims& d) {
  return {d.d_in, d.d_out, d.depth, d.node_width, d.leaf_width};
}

// Node tensors have at least one row, so depth 0 declares no empty tensor (the row is unused).
inline std::int64_t node_rows(const Params& p) {
  return std::max<std::int64_t>(pow2(p.i("depth")) - 1, 1);
}

// node_w2 and node_b2, the second layer of a node network, exist only for node_width > 1: a
// node_width 1 node is the package's linear neuron (reference/fff.hpp), so they shrink to one
// unused row and are neither generated at size nor counted in the bytes.
inline std::int64_t node_out_rows(const Params& p) {
  return p.i("node_width") == 1 ? 1 : node_rows(p);
}

// depth is a text axis so that 0 (one leaf: a plain dense block) is a valid value.
inline Axis depth_axis(std::vector<std::string> quick, std::vector<std::string> full) {
  return Axis{"depth", Axis::Kind::text, std::move(quick), std::move(full),
              "tree depth (0 ... 20): 2^depth leaves"};
}

// "" when depth is an integer from 0 to max_depth, else why not.
inline std::string depth_valid(const Params& p, std::int64_t max_depth = kMaxDepth) {
  const std::string& s = p.str("depth");
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < 0 || v > max_depth) {
    return "depth must be an integer from 0 to " + std::to_string(max_depth) + ", got '" + s + "'";
  }
  return "";
}

// The inputs of fff and soft_fff, and of their backward ops: x and the eight weights.
inline std::vector<TensorDecl> tree_inputs() {
  return {in("x", {"batch", "d_in"}),
          in("node_w1", {"node_rows", "node_width", "d_in"}, kWeight),
          in("node_b1", {"node_rows", "node_width"}, kWeight),
          in("node_w2", {"node_out_rows", "node_width"}, kWeight),
          in("node_b2", {"node_out_rows"}, kWeight),
          in("leaf_w1", {"leaves", "leaf_width", "d_in"}, kWeight),
          in("leaf_b1", {"leaves", "leaf_width"}, kWeight),
          in("leaf_w2", {"leaves", "leaf_width", "d_out"}, kWeight),
          in("leaf_b2", {"leaves", "d_out"}, kWeight)};
}

}  // namespace opbench::suite::fff_shapes
