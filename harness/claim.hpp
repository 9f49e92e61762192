#pragma once
// A paper's headline speed claim, as `opbench claims` measures it: the paper's figure and the
// conditions it was measured under, and the two cases of ours that stand for its two sides (the
// fast method and the baseline it beat), with the conditions used here when this machine cannot
// hold the paper's. Plain data: suites/claims.cpp lists the claims, reports/claims.cpp measures
// them in a run.
#include <map>
#include <string>
#include <vector>

namespace opbench {

// One side of a claim: an implementation of an op at one point of its axes. Every axis with more
// than one value in the op's quick sweep is given, so the side is exactly one case.
struct ClaimSide {
  std::string op;
  std::string impl;
  std::map<std::string, std::string> axes;  // axis name -> one value
};

struct PaperClaim {
  std::string id;                   // "mingru_vs_gru_t512": what --claim selects
  std::string paper;                // "Feng et al. 2024, Were RNNs All We Needed?, Sec. 4.1"
  std::string statement;            // "minGRU trains 175x faster than GRU at T = 512"
  double paper_figure = 0;          // 175: the paper's speed-up, baseline time over fast time
  std::string paper_figure_source;  // where the figure is printed ("abstract", "Table 2", ...)
  std::string paper_conditions;     // "T4 GPU, batch 64, PyTorch nn.GRU (cuDNN) baseline"
  std::string conditions_here;      // what is run here and, where scaled, how and why
  ClaimSide fast, baseline;
};

}  // namespace opbench
