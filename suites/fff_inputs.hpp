#pragma once
// Inputs of the fff family as the float64 references need them, and the `near_boundary` scenario:
// inputs moved so that decision values sit within a few rounding units of zero.
#include <string>

#include "harness/op.hpp"
#include "reference/fff.hpp"
#include "suites/common.hpp"

namespace opbench::suite {

// fff / soft_fff inputs as float64, kept alive for a reference call.
struct FffInputs64 {
  explicit FffInputs64(const TensorMap& in);
  F64 x, node_w1, node_b1, node_w2, node_b2, leaf_w1, leaf_b1, leaf_w2, leaf_b2;
  ref::FffWeights weights() const {
    return {node_w1.p(), node_b1.p(), node_w2.p(), node_b2.p(),
            leaf_w1.p(), leaf_b1.p(), leaf_w2.p(), leaf_b2.p()};
  }
};

// Op::input_dist of the routed ops: under `near_boundary`, x starts from normal(0,1) and
// prepare_inputs then moves it; every other value keeps the default rule.
std::string near_boundary_input_dist(const TensorDecl& t, const std::string& dist, DType dt);

// Op::prepare_inputs of ultrafast_fff under `near_boundary`: row b is projected onto the
// hyperplane of the node it reaches at level b mod (depth + 1), plus an offset of -2 ... 2 units of
// 2^-24 sum_i |x_i w_i| (b / levels mod 5 - 2), so its decision value there is within rounding of
// zero. Other dist values leave the inputs as generated.
void prepare_ultrafast_near_boundary(TensorMap& in, const Params& p);

// The same for fff (depth >= 1): row b is moved onto the boundary of the node it reaches at level
// b mod depth, plus the same small offset. A linear node (node_width 1) takes one exact projection;
// a ReLU node network's logit is piecewise linear in x, so a few Newton steps along its gradient;
// rows whose node has no active hidden neuron (zero gradient) are left as they are.
void prepare_fff_near_boundary(TensorMap& in, const Params& p);

}  // namespace opbench::suite
