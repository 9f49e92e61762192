#pragma once
// The arithmetic of cuda.fast's log-space scan (scan_cuda.cu), kept here so that host-only tests
// run the same code: the running log-sum-exp of Heinsen's form and the per-thread bodies of the
// three chunked launches (reduce a chunk, carry across the chunks of a sequence, rescan a chunk).
//
// A running log-sum-exp is a pair (m, s) standing for m + log s: m the largest term so far, s the
// sum of exp(term - m). (-inf, 0) is the empty sum (value -inf, the log of h = 0), and the identity
// of both the push of one term and the merge of two sums. Terms of -inf (b = 0: log b = -inf, an
// exact zero that a user's --input may hold) add nothing and are skipped: computing exp(x - m) for
// them would be exp(-inf - -inf) = NaN whenever the sum is still empty (a chunk that starts with a
// zero b), and a NaN dropped later would leave a finite, wrong answer. Equal maxima add without an
// exp, so that +inf terms give +inf (the reference's log(inf)), not exp(inf - inf) = NaN. A NaN
// term makes s NaN, which every later push, merge and output carries, as the reference's h does.
// The accurate expf and logf, not the __expf/__logf intrinsics: the scan is memory-bound, and their
// few-ulp errors would add to the formulation's own.
//
// Semantics are those of reference/scan.hpp log_scan: log h_t = log(a_t h_{t-1} + b_t) with
// b_t = exp(log b_t) >= 0 and h0 = exp(log h0) >= 0, evaluated as a*_t + logsumexp(log h0,
// log b_s - a*_s for s <= t), a*_t = sum of log a up to t. (An exact zero gate, log a = -inf, makes
// a* = -inf: the formulation cannot represent it, on the CPU as here.)
#include <cmath>
#include <cstdint>

#include "kernels/cuda/host_device.hpp"

namespace opbench::cuda {

// Adds the term x to the running log-sum-exp (m, s); one exp per finite term.
OPBENCH_HD void lse_push(float& m, float& s, float x) {
  if (x == -INFINITY) return;  // exp(-inf) = 0: nothing to add
  if (x > m) {
    s = s * expf(m - x) + 1.0f;  // m = -inf (the empty sum): s * 0 + 1
    m = x;
  } else if (x == m) {
    s += 1.0f;
  } else {
    s += expf(x - m);  // also x NaN: s becomes NaN
  }
}

// Merges the log-sum-exp (cm, cs) into (m, s). (cm, 0) is an empty sum (a chunk of -inf terms
// only) and leaves (m, s) as it is; a NaN in either carries on.
OPBENCH_HD void lse_merge(float& m, float& s, float cm, float cs) {
  if (cs == 0.0f) return;  // the empty sum
  if (cm > m) {
    s = s * expf(m - cm) + cs;
    m = cm;
  } else if (cm == m) {
    s += cs;
  } else {
    s += cs * expf(cm - m);
  }
}

// The value m + log s of a running log-sum-exp, shifted by a* (the log h of the scan): -inf for the
// empty sum.
OPBENCH_HD float lse_value(float a_star, float m, float s) {
  return a_star + m + logf(s);
}

// Launch 1, one thread per (sequence, chunk): the chunk's `steps` steps (element t at
// first + t * stride) reduced to the sum of its log a (*sa) and the log-sum-exp of its terms
// log b - (a* local to the chunk), as (*m, *s).
OPBENCH_HD void log_reduce_chunk(const float* la, const float* lb, std::int64_t first,
                                 std::int64_t steps, std::int64_t stride, float* sa, float* m,
                                 float* s) {
  float a_star = 0.0f, cm = -INFINITY, cs = 0.0f;
  for (std::int64_t t = 0; t < steps; ++t) {
    const std::int64_t i = first + t * stride;
    a_star += la[i];
    lse_push(cm, cs, lb[i] - a_star);
  }
  *sa = a_star;
  *m = cm;
  *s = cs;
}

// Launch 2, one thread per sequence: the `chunks` aggregates (SA, M, S at first + c * stride)
// become, in place, a* before chunk c and the log-sum-exp (global coordinates, log h0 included) of
// every term before chunk c.
OPBENCH_HD void log_carry_sequence(float log_h0, float* SA, float* M, float* S, std::int64_t first,
                                   std::int64_t chunks, std::int64_t stride) {
  float a_star = 0.0f, m = log_h0, s = 1.0f;
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t k = first + c * stride;
    const float sa = SA[k], cm = M[k] - a_star, cs = S[k];  // the chunk's terms, globally
    SA[k] = a_star;
    M[k] = m;
    S[k] = s;
    lse_merge(m, s, cm, cs);
    a_star += sa;
  }
}

// Launch 3, one thread per (sequence, chunk): rescans the chunk from its carry (sa, m, s) and
// writes log h (or h when exp_output) of each step.
OPBENCH_HD void log_rescan_chunk(const float* la, const float* lb, float sa, float m, float s,
                                 float* out, std::int64_t first, std::int64_t steps,
                                 std::int64_t stride, bool exp_output) {
  float a_star = sa;
  for (std::int64_t t = 0; t < steps; ++t) {
    const std::int64_t i = first + t * stride;
    a_star += la[i];
    lse_push(m, s, lb[i] - a_star);
    const float log_h = lse_value(a_star, m, s);
    out[i] = exp_output ? expf(log_h) : log_h;
  }
}

}  // namespace opbench::cuda
