#pragma once
// Toy ops the harness tests share: small, exact, with the implementations added by each test.
#include <cstdint>

#include "harness/op.hpp"
#include "harness/params.hpp"

namespace opbench::test_support {

// y = x over x[n] (n = 16, 32; dist normal), exact (zero tolerance); no implementations.
inline Op copy_op() {
  Op op;
  op.suite = "toy";
  op.name = "copy";
  op.axes = {Axis{"n", Axis::Kind::integer, {"16", "32"}, {"16", "32"}, ""},
             Axis{"dist", Axis::Kind::text, {"normal"}, {"normal"}, ""}};
  op.tensors = {TensorDecl{"x", {"n"}, false, false, "$dist"},
                TensorDecl{"y", {"n"}, true, false, ""}};
  op.cost = [](const Params& p, DType) { return Cost{0, 8.0 * static_cast<double>(p.i("n"))}; };
  op.tolerance = [](DType) { return Tolerance{0, 0}; };
  op.reference = [](const TensorMap& in, TensorMap& out, const Params&) {
    for (std::int64_t i = 0; i < in.at("x").numel(); ++i) {
      out.at("y").data<double>()[i] = in.at("x").value_as_double(i);
    }
  };
  return op;
}

}  // namespace opbench::test_support
