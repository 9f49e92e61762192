// The papers' headline speed claims, each with the paper's figure and conditions and the two
// cases that stand for its sides here. The conditions come from the papers and their code:
// - Feng et al. 2024 (minGRU/minLSTM): the training-step speed-up over GRU/LSTM on a T4 GPU at
//   batch 64, 175x (minGRU) and 235x (minLSTM) at T = 512, 1324x and 1361x at T = 4096.
// - Belcak & Wattenhofer 2023b (UltraFastBERT): benchmark_cpu/main.cpp of pbelcak/UltraFastBERT
//   times batch 16384, hidden 768, a depth-11 tree of 4095 neurons (12 used per token) against
//   the feed-forward layer of the same 4095 neurons as two MKL sgemm calls (ff_l3).
// - Belcak & Wattenhofer 2023a (FFF): "up to 220x faster than feedforward networks", the top of
//   the paper's sweep over widths; the speed-up grows with the width, so the claim is run at a
//   wide layer (33791 neurons, BERT-base's d = 768).
// - Lample et al. 2019 (PKM): |K| = 512^2 keys, k = 32, 4 heads; the key dimension 256 is
//   XLM's memory.py default (--mem_k_dim). The paper gives the complexity of the search, not a
//   timing: exhaustive O(|K| d_q) against product keys O((sqrt|K| + k^2) d_q).
// - Yang et al. 2022 (Unified Normalization): "about 31% inference speedup" (abstract) of whole
//   Transformers on a GPU, UN folded into the linear layers beside it; LayerNorm computes its
//   statistics on the fly. Here the two norms alone, side by side: the op-level part of the claim.
#include "suites/claims.hpp"

#include <cmath>
#include <string>

namespace opbench {

namespace {

ClaimSide side(std::string op, std::string impl, std::map<std::string, std::string> axes) {
  return ClaimSide{std::move(op), std::move(impl), std::move(axes)};
}

std::map<std::string, std::string> rnn_axes(const std::string& batch, const std::string& t) {
  return {{"batch", batch}, {"T", t}, {"d_in", "512"}, {"D", "512"}, {"dist", "normal"}};
}

PaperClaim rnn_claim(const std::string& cell, const std::string& baseline, const std::string& t,
                     double figure) {
  const bool long_seq = t == "4096";
  PaperClaim c;
  c.id = "min" + cell + "_vs_" + baseline + "_t" + t;
  c.paper = "Feng et al. 2024, Were RNNs All We Needed?";
  c.statement = "a min" + (cell == "gru" ? std::string("GRU") : std::string("LSTM")) +
                " training step is faster than a " + (cell == "gru" ? "GRU" : "LSTM") +
                " training step (BPTT) at T = " + t;
  c.paper_figure = figure;
  c.paper_figure_source =
      long_seq ? "Sec. 4.1" : (cell == "gru" ? "abstract, Sec. 4.1" : "Sec. 4.1");
  c.paper_conditions =
      "T4 GPU, batch 64, T = " + t + "; the parallel scan against PyTorch's cuDNN " +
      (cell == "gru" ? "nn.GRU" : "nn.LSTM") + ", forward and backward of one step";
  const std::string upper = cell == "gru" ? "GRU" : "LSTM";
  c.conditions_here =
      "CPU, float32, d_in = D = 512, " +
      std::string(long_seq ? "batch 8 (scaled from 64 so that the float64 check and the "
                             "baseline's steps take seconds, not minutes, on a small machine)"
                           : "batch 64") +
      "; min" + cell + "_train cpu.fast against oneDNN's " + upper +
      " training primitives (forward_training + backward)";
  const auto axes = rnn_axes(long_seq ? "8" : "64", t);
  c.fast = side("min" + cell + "_train", "cpu.fast", axes);
  c.baseline = side(baseline + "_train", "onednn", axes);
  return c;
}

std::vector<PaperClaim> build_claims() {
  std::vector<PaperClaim> claims;
  claims.push_back(rnn_claim("gru", "gru", "512", 175));
  claims.push_back(rnn_claim("lstm", "lstm", "512", 235));
  claims.push_back(rnn_claim("gru", "gru", "4096", 1324));
  claims.push_back(rnn_claim("lstm", "lstm", "4096", 1361));

  PaperClaim ufb;
  ufb.id = "ultrafastbert_cpu";
  ufb.paper = "Belcak & Wattenhofer 2023, Exponentially Faster Language Modelling";
  ufb.statement =
      "UltraFastBERT's tree layer runs faster than the feed-forward layer of as many "
      "neurons, on CPU";
  ufb.paper_figure = 78;
  ufb.paper_figure_source = "abstract";
  ufb.paper_conditions =
      "Intel CPU, Intel MKL; batch 16384, hidden 768, 4095 neurons (12 used per token); the "
      "baseline is the optimized feed-forward layer, two sgemm calls (benchmark_cpu/main.cpp)";
  ufb.conditions_here =
      "the same shapes, float32; ultrafast_fff cpu.fast against dense_ff through OpenBLAS sgemm";
  const std::map<std::string, std::string> ufb_axes = {
      {"batch", "16384"}, {"d_in", "768"}, {"d_out", "768"}, {"depth", "11"}, {"dist", "normal"}};
  ufb.fast = side("ultrafast_fff", "cpu.fast", ufb_axes);
  auto dense_axes = ufb_axes;
  dense_axes["node_width"] = "1";
  dense_axes["leaf_width"] = "1";
  ufb.baseline = side("dense_ff", "openblas", dense_axes);
  claims.push_back(ufb);

  PaperClaim fff;
  fff.id = "fff_vs_ff";
  fff.paper = "Belcak & Wattenhofer 2023, Fast Feedforward Networks";
  fff.statement =
      "a fast feed-forward layer infers faster than the feed-forward layer of its "
      "training width";
  fff.paper_figure = 220;
  fff.paper_figure_source = "abstract (\"up to\")";
  fff.paper_conditions =
      "the top of the paper's inference speed sweep over training widths; the shape behind "
      "the 220x is not in the authors' code (pbelcak/fastfeedforward has no benchmark)";
  fff.conditions_here =
      "batch 1024, d 768, depth 10, leaf width 32, node width 1 (training width 33791), "
      "float32; fff cpu.fast against dense_ff of width 33791 through OpenBLAS sgemm";
  const std::map<std::string, std::string> fff_axes = {
      {"batch", "1024"},   {"d_in", "768"},      {"d_out", "768"},  {"depth", "10"},
      {"node_width", "1"}, {"leaf_width", "32"}, {"dist", "normal"}};
  fff.fast = side("fff", "cpu.fast", fff_axes);
  fff.baseline = side("dense_ff", "openblas", fff_axes);
  claims.push_back(fff);

  PaperClaim pkm;
  pkm.id = "pkm_vs_exhaustive";
  pkm.paper = "Lample et al. 2019, Large Memory Layers with Product Keys, Sec. 3.2";
  pkm.statement =
      "product-key search finds the top k of |K| keys faster than exhaustive search "
      "over the same keys";
  // The paper prints no timing: its figure is the complexity ratio of Sec. 3.2,
  // |K| d_q / ((sqrt|K| + k^2) d_q), at |K| = 512^2 and k = 32.
  const double keys = 512.0 * 512.0, k = 32;
  pkm.paper_figure = keys / (std::sqrt(keys) + k * k);
  pkm.paper_figure_source = "Sec. 3.2 complexity, |K| / (sqrt|K| + k^2); no timing in the paper";
  pkm.paper_conditions = "|K| = 512^2 keys, k = 32, 4 heads, key dimension 256 (XLM's default)";
  pkm.conditions_here =
      "the same keys, 256 query tokens, float32; pkm_topk cpu.fast against bruteforce_topk "
      "cpu.fast (all |K| products materialized, one pass)";
  const std::map<std::string, std::string> pkm_axes = {{"keys", "262144"}, {"tokens", "256"},
                                                       {"heads", "4"},     {"dk", "256"},
                                                       {"k", "32"},        {"dist", "normal"}};
  pkm.fast = side("pkm_topk", "cpu.fast", pkm_axes);
  pkm.baseline = side("bruteforce_topk", "cpu.fast", pkm_axes);
  claims.push_back(pkm);

  PaperClaim un;
  un.id = "unified_norm_vs_layernorm";
  un.paper =
      "Yang et al. 2022, Unified Normalization for Accelerating and Stabilizing Transformers";
  un.statement =
      "Unified Normalization infers faster than LayerNorm: its statistics are fixed, so it is "
      "an affine map per feature";
  un.paper_figure = 1.31;
  un.paper_figure_source = "abstract (\"about 31% inference speedup\")";
  un.paper_conditions =
      "GPU, whole Transformers with UN in place of LayerNorm, UN fused with the linear "
      "operations beside it at inference; the normalization alone is not timed in the paper";
  un.conditions_here =
      "the norms alone, unfused, float32, 16384 tokens x 4096 features; unified_norm_infer "
      "cpu.fast (y = x a + b, a and b folded once after training) against layernorm cpu.fast";
  const std::map<std::string, std::string> norm_axes = {
      {"rows", "16384"}, {"cols", "4096"}, {"dist", "normal"}};
  un.fast = side("unified_norm_infer", "cpu.fast", norm_axes);
  un.baseline = side("layernorm", "cpu.fast", norm_axes);
  claims.push_back(un);
  return claims;
}

}  // namespace

Selection claim_side_selection(const ClaimSide& side) {
  Selection sel;
  sel.ops = {side.op};
  sel.impls = {side.impl};
  sel.dtypes = {"f32"};
  sel.axis_overrides = side.axes;
  return sel;
}

const std::vector<PaperClaim>& paper_claims() {
  static const std::vector<PaperClaim> claims = build_claims();
  return claims;
}

}  // namespace opbench
