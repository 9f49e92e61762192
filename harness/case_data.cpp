// make_inputs(), make_dataset(), allocate_outputs(), compare_outputs(), settle_status().
#include "harness/case_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "harness/agreement.hpp"

namespace opbench {

namespace {
std::string input_spec(const Op& op, const TensorDecl& t, const Params& p, DType dt) {
  const std::string dist = p.has("dist") ? p.str("dist") : "";
  if (op.input_dist) {
    std::string spec = op.input_dist(t, dist, dt);
    if (!spec.empty()) return spec;
  }
  return t.dist == "$dist" ? dist : t.dist;
}

// A float32 tensor rounded to bfloat16 (to nearest even, as the generators round).
Tensor rounded_to_bf16(const Tensor& x) {
  Tensor r(DType::bf16, x.shape());
  const float* src = x.data<float>();
  bf16_t* dst = r.data<bf16_t>();
  for (std::int64_t i = 0; i < x.numel(); ++i) dst[i] = bf16_from_float(src[i]);
  return r;
}

}  // namespace

std::uint64_t mix64(std::uint64_t x) {  // SplitMix64 finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// The inputs of a case's dataset, generated or read from the user's files, prepared for the op's
// scenario, with their records (source, dist, seed). Timing rounds after the first call it
// again: the same seeds give the same values, in freshly allocated buffers.
Dataset make_inputs(const CasePlan& c, const DataProvider& data, const Selection& sel,
                    const RunOptions& options) {
  Dataset d;
  d.key = c.dataset_key;
  d.record.key = c.dataset_key;
  const Op& op = *c.op;
  std::vector<TensorRecord> records;
  bool user_input = false;
  for (const auto& t : op.tensors) {
    if (t.output) continue;
    TensorRecord rec;
    rec.name = t.name;
    if (auto in = sel.inputs.find(t.name); in != sel.inputs.end()) {
      Tensor x = data.read_npy(in->second);
      const DType want = t.dtype_in(c.dtype);
      if (x.dtype() == DType::f32 && want == DType::bf16) {  // the planner allows this one
        rec.converted_from = "f32";
        x = rounded_to_bf16(x);
      }
      d.inputs[t.name] = x;
      rec.source = in->second;
      user_input = true;
    } else {
      Tensor x(t.dtype_in(c.dtype), op.shape_of(t, c.params));
      rec.dist = input_spec(op, t, c.params, x.dtype());
      rec.seed = mix64(options.seed ^ fnv1a(op.name + "/" + t.name));
      data.fill(x, rec.dist, rec.seed);
      d.inputs[t.name] = x;
      rec.source = "generated";
    }
    records.push_back(rec);
  }
  if (op.prepare_inputs && !user_input) op.prepare_inputs(d.inputs, c.params);
  // A backward op's saved tensors come from the forward pass on these inputs, the user's too,
  // unless the user gave the saved tensors themselves.
  if (op.gradient && op.gradient->save) {
    bool saved_given = false;
    for (const auto& [name, from] : op.gradient->saved) saved_given |= sel.inputs.count(name) > 0;
    if (!saved_given) {
      op.gradient->save(d.inputs, c.params);
      for (auto& rec : records) {
        if (op.gradient->saved.count(rec.name)) rec.source = "generated, then the forward pass";
      }
    }
  }
  d.record.tensors = std::move(records);
  return d;
}

// The inputs, their checksums, the sample and the float64 reference outputs.
Dataset make_dataset(const CasePlan& c, const DataProvider& data, const Selection& sel,
                     const RunOptions& options) {
  Dataset d = make_inputs(c, data, sel, options);
  const Op& op = *c.op;
  for (auto& rec : d.record.tensors) {
    const Tensor& x = d.inputs.at(rec.name);
    rec.dtype = std::string(dtype_name(x.dtype()));
    rec.shape = x.shape();
    rec.checksum = data.checksum(x);
  }
  if (!options.full_check) {
    d.sample = choose_sample(op, c.params, options.reference_budget_flops,
                             mix64(options.seed ^ fnv1a(c.dataset_key + "/sample")));
  }
  d.ref_params = sampled_params(c.params, d.sample);
  d.ref_inputs = gather_rows(op, d.inputs, d.sample);
  if (d.sample.active()) {
    d.record.sample_axis = d.sample.axis;
    d.record.sample_rows = d.sample.rows;
    d.record.sample_of = d.sample.of;
    d.record.sample_seed = d.sample.seed;
  }
  for (const auto& t : op.tensors) {
    if (!t.output) continue;
    Tensor y(t.index ? DType::i64 : DType::f64, op.shape_of(t, d.ref_params));
    y.poison();
    d.reference[t.name] = y;
  }
  try {
    op.reference(d.ref_inputs, d.reference, d.ref_params);
  } catch (const std::exception& e) {
    d.error = std::string("reference failed: ") + e.what();
  }
  return d;
}

// The outputs of a case, poisoned so that an element the kernel leaves unwritten fails agreement;
// accumulate-into outputs hold the base instead, which the kernel must add to. Later timing
// rounds skip both: nothing is compared there, and each timed run starts from zeroed buffers.
TensorMap allocate_outputs(const CasePlan& c, bool poison) {
  TensorMap out;
  for (const auto& t : c.op->tensors) {
    if (!t.output) continue;
    const DType dt = c.impl->is_reference && !t.index ? DType::f64 : t.dtype_in(c.dtype);
    Tensor y(dt, c.op->shape_of(t, c.params));
    if (poison) y.poison();
    out[t.name] = y;
  }
  if (poison && !c.impl->is_reference) fill_accumulators(*c.op, out, kAccumulateBase);
  return out;
}

namespace {
void fill_float(Tensor& y, double v) {
  const std::int64_t n = y.numel();
  switch (y.dtype()) {
    case DType::f32:
      std::fill(y.data<float>(), y.data<float>() + n, static_cast<float>(v));
      return;
    case DType::f64:
      std::fill(y.data<double>(), y.data<double>() + n, v);
      return;
    case DType::bf16:
      std::fill(y.data<bf16_t>(), y.data<bf16_t>() + n, bf16_from_double(v));
      return;
    case DType::f16:
      std::fill(y.data<f16_t>(), y.data<f16_t>() + n, f16_from_double(v));
      return;
    default:
      throw std::logic_error("an accumulate-into output must be a float tensor");
  }
}
}  // namespace

void fill_accumulators(const Op& op, TensorMap& out, double value) {
  for (const auto& t : op.tensors) {
    if (!t.output || !t.accumulate) continue;
    Tensor& y = out.at(t.name);
    if (value == 0) {
      std::memset(y.raw(), 0, y.bytes());  // +0 in every float dtype
    } else {
      fill_float(y, value);
    }
  }
}

namespace {
// out - base in float64 (exact for the bases used, 0 and 1, at the magnitudes compared).
Tensor minus_base(const Tensor& out, double base) {
  Tensor r(DType::f64, out.shape());
  out.values_as_double(0, out.numel(), r.data<double>());
  double* d = r.data<double>();
  for (std::int64_t k = 0; k < r.numel(); ++k) d[k] -= base;
  return r;
}
}  // namespace

// The implementation's outputs against the reference, on the sampled rows when sampled; the op's
// own comparison (ties in routing or top-k) when it has one.
Agreement compare_outputs(const CasePlan& c, const TensorMap& out, const Dataset& d, double base) {
  const Tolerance tol = c.op->tolerance ? c.op->tolerance(c.dtype) : Tolerance{};
  TensorMap checked = gather_rows(*c.op, out, d.sample);
  std::map<std::string, DType> accumulated;  // name -> the dtype the kernel added in
  for (const auto& t : c.op->tensors) {
    if (!t.output || !t.accumulate) continue;
    Tensor& y = checked.at(t.name);
    accumulated[t.name] = y.dtype();
    y = minus_base(y, base);
  }
  if (c.op->compare) return c.op->compare(d.ref_inputs, checked, d.reference, d.ref_params, tol);
  Agreement total;
  for (const auto& t : c.op->tensors) {
    if (!t.output) continue;
    Tolerance rule = tol;
    if (auto a = accumulated.find(t.name); a != accumulated.end()) {
      // One rounding of the addition to the base: u (|base| + |ref|).
      const double u = unit_roundoff(a->second);
      rule.atol += u * std::abs(base);
      rule.rtol += u;
    }
    merge_agreement(
        total, compare_tensor(t.name, checked.at(t.name), d.reference.at(t.name), rule, t.index));
  }
  return total;
}

void settle_status(Agreement& a, const KnownFailure* known) {
  if (!a.checked) {
    a.status = AgreementStatus::not_applicable;
    return;
  }
  a.known_failure = known ? known->reason : "";
  if (a.passed) {
    a.status = AgreementStatus::pass;
  } else {
    a.status = known ? AgreementStatus::xfail : AgreementStatus::fail;
  }
}

}  // namespace opbench
