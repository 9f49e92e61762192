// The fff family in PyTorch, as a PyTorch user writes it (semantics: reference/fff.hpp).
//
// dense_ff: BERT's intermediate layer as two bias-free torch.nn.Linear with the exact GeLU between
// them, F.linear(F.gelu(F.linear(x, W1)), W2). Linear weights are [out, in]: w_in[width, d_in] is
// W1 as it is; W2 is w_out[width, d_out] transposed, stored once at bind time (untimed), as the
// module would hold it.
// ultrafast_fff: the UltraFastBERT authors' gather form (benchmark_pytorch/fff/fff_bmm.py of
// pbelcak/UltraFastBERT): per level, the visited neurons' w_in rows by index_select, their logits
// by bmm, the next node 2 n + 1 + (logit > 0) (the contract's rule: the authors' >= 0 differs only
// at an exact zero); then the visited w_out rows by index_select and one bmm with GeLU(logits).
// fff: the hard (inference) forward of the fastfeedforward package's FFF written batched: per
// level the node weights by index_select and the decision by bmm (plane_score >= 0), then the
// chosen leaves' blocks by index_select and two bmm with the ReLU between them.
//
// Dtypes: float32 and bfloat16, what PyTorch 1.13 runs on the CPU (no float16 matmul). Its bfloat16
// chains round after every op, beyond the contract: known failures (suites/fff.cpp says more).
#include "kernels/cpu/torch_plugin_common.hpp"

namespace opbench::torch_plugin {
namespace {

// F.gelu(z) with its default approximate='none': the exact GeLU of the contract.
at::Tensor exact_gelu(const at::Tensor& z) {
  return at::gelu(z);
}

std::unique_ptr<Kernel> dense_ff(const Call& c) {
  at::Tensor x = input(c, "x"), w1 = input(c, "w_in");
  at::Tensor w2 = input(c, "w_out").t().contiguous();  // nn.Linear(width, d_out).weight
  return std::make_unique<Eager>(c, std::vector<std::string>{"y"}, [=] {
    return std::vector<at::Tensor>{at::linear(exact_gelu(at::linear(x, w1)), w2)};
  });
}

std::unique_ptr<Kernel> ultrafast_fff(const Call& c) {
  at::Tensor x = input(c, "x"), w_in = input(c, "w_in"), w_out = input(c, "w_out");
  const std::int64_t depth = param(c, "depth");
  return std::make_unique<Eager>(c, std::vector<std::string>{"y", "path"}, [=] {
    const std::int64_t batch = x.size(0), d_out = w_out.size(1), levels = depth + 1;
    at::Tensor current = at::zeros({batch}, x.options().dtype(at::kLong));
    at::Tensor all_nodes = at::zeros({batch, levels}, x.options().dtype(at::kLong));
    at::Tensor all_logits = at::empty({batch, levels}, x.options());
    at::Tensor xr = x.unsqueeze(1);  // [batch, 1, d_in]
    for (std::int64_t i = 0; i < levels; ++i) {
      all_nodes.select(1, i).copy_(current);
      at::Tensor plane_coeffs = w_in.index_select(0, current);  // [batch, d_in]
      at::Tensor plane_score = at::bmm(xr, plane_coeffs.unsqueeze(-1)).view({batch});
      all_logits.select(1, i).copy_(plane_score);
      current = current * 2 + (plane_score > 0).to(at::kLong) + 1;
    }
    at::Tensor selected_w2s =
        w_out.index_select(0, all_nodes.flatten()).view({batch, levels, d_out});
    at::Tensor mlp1 = exact_gelu(all_logits);  // [batch, levels]
    at::Tensor y = at::bmm(mlp1.unsqueeze(1), selected_w2s).view({batch, d_out});
    return std::vector<at::Tensor>{y, all_nodes};
  });
}

std::unique_ptr<Kernel> fff(const Call& c) {
  at::Tensor x = input(c, "x");
  at::Tensor node_w1 = input(c, "node_w1"), node_b1 = input(c, "node_b1");
  at::Tensor node_w2 = input(c, "node_w2"), node_b2 = input(c, "node_b2");
  at::Tensor leaf_w1 = input(c, "leaf_w1"), leaf_b1 = input(c, "leaf_b1");
  at::Tensor leaf_w2 = input(c, "leaf_w2"), leaf_b2 = input(c, "leaf_b2");
  const std::int64_t depth = param(c, "depth"), node_width = node_w1.size(1);
  return std::make_unique<Eager>(c, std::vector<std::string>{"y", "leaf"}, [=] {
    const std::int64_t batch = x.size(0), d_out = leaf_b2.size(1);
    at::Tensor xc = x.unsqueeze(-1);  // [batch, d_in, 1]
    at::Tensor current = at::zeros({batch}, x.options().dtype(at::kLong));
    for (std::int64_t i = 0; i < depth; ++i) {
      // [batch, node_width, d_in] x [batch, d_in, 1] -> [batch, node_width]
      at::Tensor hidden = at::bmm(node_w1.index_select(0, current), xc).squeeze(-1) +
                          node_b1.index_select(0, current);
      at::Tensor plane_score;
      if (node_width == 1) {  // the package's linear node: x . w + b
        plane_score = hidden.squeeze(-1);
      } else {  // the paper's node network: a ReLU layer, then one output neuron
        plane_score = (at::relu(hidden) * node_w2.index_select(0, current)).sum(-1) +
                      node_b2.index_select(0, current);
      }
      current = current * 2 + (plane_score >= 0).to(at::kLong) + 1;
    }
    at::Tensor leaves = current - ((std::int64_t{1} << depth) - 1);
    // [batch, leaf_width, d_in] x [batch, d_in, 1] -> [batch, leaf_width]
    at::Tensor h = at::relu(at::bmm(leaf_w1.index_select(0, leaves), xc).squeeze(-1) +
                            leaf_b1.index_select(0, leaves));
    // [batch, 1, leaf_width] x [batch, leaf_width, d_out] -> [batch, d_out]
    at::Tensor y = at::bmm(h.unsqueeze(1), leaf_w2.index_select(0, leaves)).view({batch, d_out}) +
                   leaf_b2.index_select(0, leaves);
    return std::vector<at::Tensor>{y, leaves};
  });
}

}  // namespace

std::unique_ptr<Kernel> bind_fff(const Call& c) {
  if (c.op == "dense_ff") return dense_ff(c);
  if (c.op == "ultrafast_fff") return ultrafast_fff(c);
  if (c.op == "fff") return fff(c);
  return nullptr;
}

}  // namespace opbench::torch_plugin
