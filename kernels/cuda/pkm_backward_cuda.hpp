#pragma once
// cuda.fast of pkm_layer_backward (equations in reference/pkm.hpp; the CPU kernels and the
// meaning of each gradient in kernels/cpu/pkm_backward.hpp), float32, device pointers, launched on
// the bound stream (launch_stream.hpp) without synchronizing. dvalues, dk1 and dk2 are
// accumulate-into outputs: the kernel adds to what they hold.
//
// The scatter-adds are deterministic, without atomics on floats: the (row, contribution) pairs are
// sorted by row (CUB's stable radix sort, so a row's contributions stay in token order), runs of
// equal rows are found (CUB's run-length encoding), and one block owns each (row, 128 columns):
// its warps split the row's contributions, their partial sums are added in warp order and the row
// is read and written once. The same inputs give the same bits from run to run.
#include <cstdint>
#include <string>

#include "kernels/cpu/pkm_backward.hpp"  // PkmBackwardInputs, PkmBackwardGrads
#include "kernels/cpu/pkm_types.hpp"
#include "kernels/cuda/host_device.hpp"

namespace opbench::cuda {

namespace pkm_bwd {
constexpr std::int64_t kMaxK = 256;           // a (token, head)'s k softmax terms in shared memory
constexpr std::int64_t kTokensPerSlice = 64;  // tokens per block of the column sums
constexpr std::int64_t kMaxSlices = 65535;    // grid.y of the column sums
constexpr std::int64_t kMaxEntries = 2147483647;  // sort items are numbered with 32-bit ints

// Tokens per slice of the batch normalization's column sums: 64, or more when 64 would need more
// slices than grid.y holds; and the slices that gives.
inline std::int64_t slice_tokens(std::int64_t tokens) {
  const std::int64_t least = (tokens + kMaxSlices - 1) / kMaxSlices;
  return least > kTokensPerSlice ? least : kTokensPerSlice;
}
inline std::int64_t slices(std::int64_t tokens) {
  return tokens <= 0 ? 0 : (tokens + slice_tokens(tokens) - 1) / slice_tokens(tokens);
}

// Scratch besides CUB's temporary storage, in bytes: the queries and their gradient (reused for
// dz) [tokens, heads * dk], the softmax gradient [tokens, heads, k], three column-sum partials per
// slice and column, and for the sorts (the sub-key sort is the larger: both halves' pairs,
// 2 tokens * heads * k items) two key and two id buffers, the runs' rows, counts and starts, and
// the run count; all 4-byte words.
inline double explicit_scratch_bytes(const pkm::Dims& d) {
  if (d.tokens <= 0 || d.heads <= 0) return 0;
  const double hdk = static_cast<double>(d.heads * d.dk);
  const double entries = 2.0 * static_cast<double>(d.tokens * d.heads * d.k);
  const double t = static_cast<double>(d.tokens);
  return 4.0 * (2.0 * t * hdk + static_cast<double>(d.tokens * d.heads * d.k) +
                3.0 * static_cast<double>(slices(d.tokens)) * hdk + 7.0 * entries + 1.0);
}

// Where the scatter-adds' contributions come from and go, the index arithmetic the kernels run
// (tested on the host against the plain loops). Contribution e = (t * heads + h) * k + m, of
// `entries` = tokens * heads * k; per_token = heads * k.
//
// The value rows: contribution e adds p_e dy_t to row indices[e]; dy_t starts at:
OPBENCH_HD long long value_source(long long e, long long per_token, long long dv) {
  return e / per_token * dv;
}
// The sub-keys, both halves in one sort of 2 * entries items: item s * entries + e (s = 0: k1,
// s = 1: k2) adds ds_e times half s of e's query to sub-key row s * heads * n + h * n + sub, sub
// = i for k1 and j for k2 of product key indices[e] = i * n + j.
OPBENCH_HD long long sub_key_row(long long item, long long entries, long long index,
                                 long long heads, long long k, long long n) {
  const long long second = item >= entries ? 1 : 0, e = item - second * entries;
  const long long h = e / k % heads;
  return (second * heads + h) * n + (second ? index % n : index / n);
}
// The start of that half of e's query q[tokens, heads * dk].
OPBENCH_HD long long sub_key_source(long long item, long long entries, long long k, long long heads,
                                    long long dk) {
  const long long second = item >= entries ? 1 : 0, e = item - second * entries;
  return e / (heads * k) * heads * dk + e / k % heads * dk + second * (dk / 2);
}
// The sorted row's place: in dk2 (true) or dk1, at the offset returned.
OPBENCH_HD long long sub_key_target(long long row, long long heads, long long n, long long half,
                                    bool& second) {
  second = row >= heads * n;
  return (second ? row - heads * n : row) * half;
}
}  // namespace pkm_bwd

// Why cuda.fast cannot run a shape ("" when it can): a (token, head)'s k terms live in shared
// memory (k <= 256), and the sub-key sort numbers its 2 * tokens * heads * k items, and the sorted
// rows (2 * heads * n sub-keys, N product keys), with 32-bit integers.
std::string pkm_layer_backward_unsupported(const pkm::Dims& d);

// Device scratch for a shape: explicit_scratch_bytes plus what CUB's sort, run-length encoding
// and scan ask for on this device (their query launches nothing).
double pkm_layer_backward_scratch_bytes(const pkm::Dims& d);

// 1. Per (token, head), one block: dp_m = dy . values[idx_m] (a warp per m), ds = p (dp - p.dp),
//    dq = sum_m ds_m [k1_i; k2_j], q = zhat gamma + beta. 2. The batch normalization's column sums
//    (dbn_beta, dbn_gamma, db) in two deterministic stages, dz = dq gamma / sqrt(var + eps) in
//    place of dq. 3. dw = x^T dz and dx = dz w^T through cuBLAS. 4. The value rows' scatter-add of
//    p dy, then both sub-key sets' of ds q (one sort of both halves).
void pkm_layer_backward(const cpu::PkmBackwardInputs& in, const cpu::PkmBackwardGrads& g,
                        const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps);

}  // namespace opbench::cuda
