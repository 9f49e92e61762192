#pragma once
// Float64 references of MsgNorm (DeeperGCN) and PowerNorm (training step and inference): plain
// loops straight from the papers' equations, no SIMD, no threads. Row-major arrays; where the
// authors' code and the paper differ, the comment says which one we follow and why. These
// functions are the contract the implementations of suites/norm_msgnorm_powernorm.cpp are
// checked against.
#include <cstdint>

namespace opbench::ref {

// MsgNorm (Li, Xiong, Thabet, Ghanem 2020, "DeeperGCN: All You Need to Train Deeper GCNs",
// Sec. 3.3, the MsgNorm update), per node (row) of node features x[rows, cols] and aggregated
// messages m[rows, cols], with the learned scalar s, before the update's MLP:
//   y = x + s * ||x||_2 * m / ||m||_2
// Paper and code differ at ||m|| = 0: the paper divides by ||m||_2 (undefined for a node whose
// aggregated message is zero, e.g. one without neighbours), the authors' code
// (lightaime/deep_gcns_torch, gcn_lib/sparse/torch_message.py, class MsgNorm, used by GENConv as
// h = x + msg_norm(x, m)) normalizes with F.normalize(m, p=2), which divides by
// max(||m||_2, 1e-12). We follow the code, so every input gives a defined result:
//   y = x + (m / max(||m||_2, norm_floor)) * ||x||_2 * s,  norm_floor = 1e-12
// A zero message leaves y = x; a zero x row gives y = x = 0.
void msgnorm(const double* x, const double* m, double s, double* y, std::int64_t rows,
             std::int64_t cols, double norm_floor);

// PowerNorm, one training step's forward pass (Shen, Yao, Gholami, Mahoney, Keutzer 2020,
// "PowerNorm: Rethinking Batch Normalization in Transformers", Algorithm 1, forward
// propagation), x[rows = batch x tokens, cols = features]. Per column j, with the running
// quadratic mean psi^2 of the previous iteration (running_phi, the name of the authors' buffer):
//   psi_B^2[j]         = mean over rows of x[r, j]^2                 (mini-batch statistic)
//   y[r, j]            = gamma[j] * x[r, j] / sqrt(running_phi[j] + eps) + beta[j]
//   running_phi_new[j] = alpha * running_phi[j] + (1 - alpha) * psi_B^2[j]
// The output is normalized by the running statistic of the previous iteration, not by the
// batch's: the batch statistic only enters the update (and the approximate backward pass).
// Where the code (sIncerass/powernorm, fairseq/modules/norms/mask_powernorm.py, PowerFunction
// and MaskPowerNorm) differs from Algorithm 1, we follow the algorithm, except for eps:
//  - eps: Algorithm 1 divides by psi_{t-1}; the code by sqrt(running_phi + eps), eps = 1e-5.
//    We take the code's eps (a running statistic near zero stays finite, and the inference form
//    below needs the same).
//  - warmup: for its first warmup_iters steps the code normalizes by the batch's own psi_B^2
//    and folds a cumulative average into running_phi before the exponential update. That is a
//    transient start-up phase outside Algorithm 1, with a step-counter input; it is left out.
//  - GroupScaling1D: the code first divides every token by the root mean square of x^2 over each
//    of group_num groups of features (group_num = the number of attention heads in its
//    transformer): a per-token RMS scaling without gain, a separate normalization layer that
//    the paper does not describe. It is left out; composed with PowerNorm it would be an RMSNorm
//    of each group followed by this op.
//  - padding: the code takes psi_B^2 over the non-padded tokens only; here every row is a token.
void powernorm(const double* x, const double* running_phi, const double* gamma, const double* beta,
               double* y, double* running_phi_new, std::int64_t rows, std::int64_t cols,
               double alpha, double eps);

// PowerNorm at inference (Shen et al. 2020, Algorithm 1, inference; the code's eval branch of
// MaskPowerNorm.forward): y[r, j] = gamma[j] * x[r, j] / sqrt(running_phi[j] + eps) + beta[j],
// running_phi the running quadratic mean psi^2 (eps as in powernorm above).
void powernorm_infer(const double* x, const double* running_phi, const double* gamma,
                     const double* beta, double* y, std::int64_t rows, std::int64_t cols,
                     double eps);

}  // namespace opbench::ref
