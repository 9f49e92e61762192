#pragma once
// How a suite declares an operation: its tensors, axes, cost model, tolerance, float64 reference
// and implementations. An op states *what*; the runner decides how to check and time it.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/agreement_result.hpp"
#include "harness/dtype.hpp"
#include "harness/params.hpp"
#include "harness/tensor.hpp"

namespace opbench {

// An input or output tensor. `dims` names axes of the op or its derived dims, so a shape follows
// from a parameter point and, the other way round, a user's .npy input sets those axes.
struct TensorDecl {
  std::string name;
  std::vector<std::string> dims;
  bool output = false;
  // Integer output (top-k ids, tree leaves): compared exactly, stored as i64.
  bool index = false;
  // Inputs only: "$dist" draws from the case's `dist` axis; anything else is a fixed distribution
  // (for example "uniform(0.5,1.5)" for a scale that must stay positive).
  std::string dist = "$dist";
  // The tensor's dtype rule: unset, it takes the case's dtype (x, gamma, y of a bfloat16 case are
  // bfloat16); set, it keeps this dtype in every case, as statistics that kernels keep in float32
  // whatever the data's dtype (BatchNorm's running mean and variance, as in PyTorch's mixed
  // precision). Index outputs are i64 either way.
  std::optional<DType> fixed_dtype;
  // (Last, so that positional initializers of the fields above stay valid.) Outputs only:
  // accumulate-into (a gradient summed into its buffer, as autograd's .grad): the kernel adds its
  // result to what the buffer holds. The harness fills the buffer with kAccumulateBase before the
  // agreement run (an implementation that overwrites, or adds twice, is off by the base or by its
  // own result) and compares out - base with the reference, which writes the result alone; before
  // every timed call it zeroes the buffer outside the timed region.
  bool accumulate = false;

  // The dtype this tensor has in a case of dtype `case_dtype`.
  DType dtype_in(DType case_dtype) const {
    return index ? DType::i64 : fixed_dtype.value_or(case_dtype);
  }
};

// What an accumulate-into output holds when the agreement run starts: non-zero, so a kernel that
// overwrites is off by it; 1 is exact in every float dtype. The agreement rule subtracts it again
// and allows the rounding of one addition to it, u (|base| + |ref|) with u of the output's dtype;
// an op whose kernels add many terms one by one into the buffer states the rest in its own rule.
inline constexpr double kAccumulateBase = 1.0;

// Compulsory work of one execution: the flops it must do and the bytes it must move at least
// (each input read once, each output written once).
struct Cost {
  double flops = 0;
  double bytes = 0;
};

// What an implementation runs once bound to one case's tensors.
class BoundKernel {
 public:
  virtual ~BoundKernel() = default;
  virtual void run() = 0;  // one execution; on a device it may return before the work finishes
  virtual void sync() {}   // wait for the device to finish what run() started
  virtual void fetch() {}  // copy device outputs into the host tensors given at bind time
  // The device stream (a cudaStream_t) its runs queue on, on which timing records its events and
  // queues what must come before a sample; nullptr for a kernel on the host.
  virtual void* stream() const { return nullptr; }
  // Ops with accumulate-into outputs (TensorDecl::accumulate): each timed run must start from
  // zeroed buffers. Timing strategies call reset_accumulators() before every timed run, outside
  // the timed region, where accumulates() is true. The harness wraps host kernels and zeroes
  // their host tensors itself; a device kernel of such an op uploads the outputs' contents at
  // bind (the base) and overrides both, clearing its device copies on its stream.
  virtual bool accumulates() const { return false; }
  virtual void reset_accumulators() {}
};

// Binds an implementation to a case. `outputs` are allocated (and poisoned) by the runner with the
// declared shapes; the kernel writes into them (or, on a device, fetch() copies into them).
using BindFn = std::function<std::unique_ptr<BoundKernel>(const TensorMap& inputs,
                                                          TensorMap& outputs, const Params& p)>;

struct Impl {
  std::string name;     // "cpu.plain", "cpu.fast", "cuda.fast", "onednn", "ref"
  std::string backend;  // "ref", "cpu" or "cuda": which machine runs it and how it is timed
  std::vector<DType> dtypes = {DType::f32};
  // Empty string (or no function) when the point is supported; else why not, for `list` and skips.
  std::function<std::string(const Params&)> unsupported;
  BindFn bind;
  bool is_reference = false;
  // Optional: bytes of scratch memory a case at this point allocates on its backend beyond its
  // tensors, so a case that cannot fit is refused before anything is allocated.
  std::function<double(const Params&)> scratch_bytes;
};

// Which pass of training an op is (tritonbench's --mode): the forward pass, the backward pass, or
// a whole training step (forward then backward) timed as one.
enum class Mode { fwd, bwd, fwd_bwd };
const char* mode_name(Mode m);  // "fwd", "bwd", "fwd_bwd"
std::optional<Mode> parse_mode(const std::string& s);

// How a backward op relates to its forward op: which tensors are the same, which are gradients of
// which, and which the forward pass saves. The harness makes the saved tensors from the forward
// pass's float64 arithmetic on the case's inputs (never drawn at random), and
// harness/gradient_check.hpp checks the backward reference against central finite differences
// of the forward reference with it.
struct GradientOf {
  std::string forward;  // the forward op, in the same suite ("layernorm")
  // Backward input -> the forward input holding the same values ("x" -> "x").
  std::map<std::string, std::string> same;
  // Backward input -> the forward output it is the incoming gradient of ("dy" -> "y").
  std::map<std::string, std::string> incoming;
  // Backward output -> the forward input it is the gradient of ("dx" -> "x").
  std::map<std::string, std::string> gradients;
  // Backward input -> the forward output it saves ("h" -> "h"), or "" for a value the forward
  // pass computes on the way (LayerNorm's mean and rstd), which `save` fills.
  std::map<std::string, std::string> saved;
  // Fills the saved inputs from the others, in float64, each rounded once to its dtype. The
  // harness runs it on every case unless the user gave a saved tensor with --input.
  std::function<void(TensorMap& inputs, const Params& p)> save;
  // The (small) parameter point of the finite-difference check, axis -> value; axes not named
  // take their first value of the full sweep.
  std::map<std::string, std::string> check_point;
};

// Adapts a plain host function to a BindFn.
using HostKernelFn = std::function<void(const TensorMap& in, TensorMap& out, const Params& p)>;
BindFn bind_host(HostKernelFn fn);

struct Op {
  std::string suite;  // "norm"
  std::string name;   // "layernorm"
  std::string title;  // one line for `list`
  std::string paper;  // where the equation comes from
  Mode mode = Mode::fwd;
  // Set on backward ops and training steps (modes bwd and fwd_bwd): how the op differentiates its
  // forward op. A training step's outputs are the forward's (not in `gradients`) and the
  // gradients; it saves nothing, as it runs the forward pass itself.
  std::optional<GradientOf> gradient;
  std::vector<Axis> axes;
  std::map<std::string, std::function<std::int64_t(const Params&)>> derived;
  std::vector<TensorDecl> tensors;
  std::vector<DType> dtypes = {DType::f32};
  // The dtypes of the quick sweep (the main job), a subset of `dtypes`; empty: f32 alone. The
  // full sweep and an explicit --dtype take any of `dtypes`.
  std::vector<DType> quick_dtypes;
  std::function<Cost(const Params&, DType)> cost;
  std::function<Tolerance(DType)> tolerance;
  // "" when the parameter point is valid, else one line naming the problem.
  std::function<std::string(const Params&)> validate;
  // Float64 reference: reads the inputs (any dtype), writes float64 outputs (i64 for index ones).
  HostKernelFn reference;
  // Optional: the whole comparison of an implementation's outputs `out` with the reference's
  // `ref`, for ops where element-wise comparison is not the rule (routing decisions, top-k ids with
  // ties: count them in Agreement::ties). Unset: compare_tensor() on every output.
  std::function<Agreement(const TensorMap& in, const TensorMap& out, const TensorMap& ref,
                          const Params& p, Tolerance tol)>
      compare;
  // Sampled agreement (DESIGN.md): when `reference_flops` of a case exceeds the runner's budget,
  // the reference runs on a seeded sample of indices along `sample_axis` (an axis that is the
  // leading dim of every output and of the inputs that have it; rows along it are independent)
  // and the implementation's outputs are compared on those rows. `--full-check` turns it off.
  std::string sample_axis;
  std::function<double(const Params&)> reference_flops;
  // Optional: the distribution spec a generated input `t` of dtype `dt` takes for the case's `dist`
  // value, for families whose scenarios set several tensors at once (scan's `near_one`: gates just
  // below 1, which in bf16 and f16 are other values than in f32). "" (or unset) keeps the default
  // rule: "$dist" inputs take the `dist` value, others their own spec. Every value of the op's own
  // `dist` axis is a valid `--axis dist=` choice.
  std::function<std::string(const TensorDecl& t, const std::string& dist, DType dt)> input_dist;
  // Optional: adjusts freshly generated inputs (deterministically, before checksums are taken)
  // for scenarios a per-element distribution cannot express: decision values near zero,
  // duplicated keys. Not run when any input comes from --input: the user's data is used as given.
  std::function<void(TensorMap& inputs, const Params& p)> prepare_inputs;
  std::vector<Impl> impls;  // the reference is added as impl "ref" by the registry

  Shape shape_of(const TensorDecl& t, const Params& p) const;
  const TensorDecl* find_tensor(const std::string& name) const;
  const Axis* find_axis(const std::string& name) const;
  const Impl* find_impl(const std::string& name) const;
  std::string full_name() const { return suite + "/" + name; }
};

}  // namespace opbench
