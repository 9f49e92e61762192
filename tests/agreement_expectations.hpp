#pragma once
// What the suite tests expect of every case of a checked run: it ran and agreed with the
// reference. Two exceptions, both visible in the report and never silent:
// - a CUDA case without a device, and a peer library's case it cannot run (PyTorch's missing
//   form of an op, a score matrix too big), are skipped with the reason;
// - a peer library's case (oneDNN, PyTorch, FAISS) may fail as a known failure listed with its
//   reason in suites/known_failures.json (status xfail): its error is the peer's, measured, and
//   we do not loosen the tolerance for it. Our own kernels are let off only where a test names
//   the cases (`may_be_known`). A case that becomes more accurate never turns a test red.
#include <gtest/gtest.h>

#include <string>

#include "harness/device.hpp"
#include "harness/results.hpp"

namespace opbench::test_support {

inline bool is_peer(const CaseRecord& c) {
  return c.impl == "onednn" || c.impl == "torch" || c.impl == "faiss";
}

inline bool is_skipped(const CaseRecord& c) {
  return c.error.rfind("skipped: ", 0) == 0;
}

inline bool none_known(const CaseRecord&) {
  return false;
}

// Checks one non-reference case; returns whether it was compared (false when skipped).
template <class Pred>
bool expect_agrees_or_listed(const CaseRecord& c, Pred may_be_known) {
  if (c.backend == "cuda" && !cuda_status().available) {
    EXPECT_TRUE(is_skipped(c)) << c.name << ": " << c.error;  // listed with the reason
    return false;
  }
  if (is_peer(c) && is_skipped(c)) return false;
  EXPECT_TRUE(c.error.empty()) << c.name << ": " << c.error;
  EXPECT_TRUE(c.agreement.checked) << c.name;
  EXPECT_GT(c.agreement.elements, 0) << c.name;
  if ((is_peer(c) || may_be_known(c)) && c.agreement.status == AgreementStatus::xfail) {
    EXPECT_FALSE(c.agreement.known_failure.empty()) << c.name;
    return true;
  }
  EXPECT_EQ(c.agreement.status, AgreementStatus::pass)
      << c.name << ": " << c.agreement.mismatches << " mismatches, first "
      << c.agreement.first_mismatch;
  return true;
}

inline bool expect_agrees_or_listed(const CaseRecord& c) {
  return expect_agrees_or_listed(c, none_known);
}

// Every non-reference case of `r`; returns how many were compared.
template <class Pred>
int expect_all_agree_or_listed(const RunResult& r, Pred may_be_known) {
  int compared = 0;
  for (const auto& c : r.cases) {
    if (!c.is_reference && expect_agrees_or_listed(c, may_be_known)) ++compared;
  }
  return compared;
}

inline int expect_all_agree_or_listed(const RunResult& r) {
  return expect_all_agree_or_listed(r, none_known);
}

}  // namespace opbench::test_support
