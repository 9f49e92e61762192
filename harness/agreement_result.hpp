#pragma once
// What comparing an implementation with the float64 reference gives (DESIGN.md, "Agreement"):
// the tolerance of the rule, the status every case ends with, and the errors behind it.
#include <cstdint>
#include <string>

namespace opbench {

// |out - ref| <= atol + rtol * |ref|, element by element.
struct Tolerance {
  double atol = 0;
  double rtol = 0;
};

// Every case ends with one of these.
enum class AgreementStatus {
  not_applicable,  // the reference itself, a case that was not run (skipped, or `check` of none)
  pass,            // every element within tolerance (for a known failure: it passes now)
  fail,            // an element out of tolerance, before or after the timed runs
  xfail,           // failed, and listed as a known failure in the manifest with its reason
  error,           // the case could not run (the kernel or the reference threw)
};

const char* status_name(AgreementStatus s);  // "pass", "fail", "not_applicable", "xfail", "error"
// The status named `name`; false when it names none.
bool parse_status(const std::string& name, AgreementStatus& out);

// The outcome of comparing one implementation's outputs with the reference's.
struct Agreement {
  AgreementStatus status = AgreementStatus::not_applicable;
  bool checked = false;  // compared with the reference (false for the reference, cases not run)
  bool passed = false;   // the comparison's own verdict, before the known-failure manifest
  // The worst |out - ref| / allowed error over the compared elements: the headline number (pass
  // when <= 1). Exact (index) outputs and NaN/Inf positions count in `mismatches` instead.
  double err_ratio = 0;
  double max_abs_err = 0;
  // The largest |out - ref| / |ref| where the relative part of the rule governs (|ref| at or
  // above atol / rtol): near-zero outputs, judged by atol, would make it meaningless.
  double max_rel_err = 0;
  double rel_l2_err = 0;        // ||out - ref|| / ||ref|| over the finite elements
  std::int64_t mismatches = 0;  // elements out of tolerance (NaN/Inf position mismatches included)
  std::int64_t elements = 0;    // elements compared
  std::string first_mismatch;   // "y[3, 17]: got 1.5, want 1.25" (empty when none)
  // Decisions the reference itself cannot make (a routing value within rounding of zero, equal
  // scores at the k-th place): the implementation's answer was accepted and counted here.
  std::int64_t ties = 0;
  // The manifest's reason when the case is a listed known failure (status xfail, or pass when it
  // passes now: then the manifest entry is stale and the summary says so).
  std::string known_failure;
  // The outputs were compared again after the timed runs and differed there (status fail).
  bool changed_during_timing = false;
  // The second opinion of FlashAttention's tests, for bf16 and f16 cases: the max_abs_err of
  // cpu.plain (the straightforward code in the same dtype) on the same dataset, when cpu.plain was
  // checked on it earlier in this process; negative when not known. Reports give the kernel's
  // max_abs_err as a multiple of it (`err_vs_plain`); the tolerance alone decides the status.
  double plain_max_abs_err = -1;
};

// FlashAttention's tests accept a 16-bit kernel whose error is at most this multiple of the
// straightforward same-dtype implementation's; summaries point out kernels beyond it.
constexpr double kSecondOpinionFactor = 2;

}  // namespace opbench
