// The scan family in PyTorch, as a PyTorch user writes it (semantics: reference/scan.hpp).
//
// mingru, minlstm: the log-space version of Feng et al. 2024 ("Were RNNs All We Needed?",
// appendix), op for op: parallel_scan_log with torch.cumsum and torch.logcumsumexp, g and log_g as
// the paper defines them, the gates from one nn.Linear over the stacked columns of w (the paper's
// linear_z and linear_h side by side: the same products). Only form=log: the paper's PyTorch code
// has no other form.
// lstm: torch.nn.LSTM's call, at::lstm with flat weights (PyTorch's gate order i, f, g, o is the
// reference's; our single bias is b_ih, b_hh is zero).
// gru: not bound: PyTorch's GRU resets after the recurrent product (suites/scan.cpp says why).
// Training steps (suites/scan_train.cpp; float32): the same chains recorded by autograd, then
// h.backward(dh), as a PyTorch training loop runs them: mingru_train and minlstm_train through
// the paper's log-space code, lstm_train through at::lstm(train=True). x, the weights, the bias
// and the initial states are leaves; PyTorch's weights are w^T and u^T (made once, untimed), so
// their gradients are transposed back.
//
// Dtypes (what suites/scan.cpp declares for `torch`): float32 and bfloat16. PyTorch 1.13 has none
// of these in float16 on the CPU, and its bfloat16 chains round after every op, far beyond the
// layers' rule: known failures with their measured errors.
#include "kernels/cpu/torch_plugin_common.hpp"

namespace opbench::torch_plugin {
namespace {

// def log_g(x): return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))
at::Tensor log_g(const at::Tensor& x) {
  return at::where(x >= 0, (at::relu(x) + 0.5).log(), -at::softplus(-x));
}

// def parallel_scan_log(log_coeffs, log_values):
//     a_star = F.pad(torch.cumsum(log_coeffs, dim=1), (0, 0, 1, 0))
//     log_h0_plus_b_star = torch.logcumsumexp(log_values - a_star, dim=1)
//     log_h = a_star + log_h0_plus_b_star
//     return torch.exp(log_h)[:, 1:]
at::Tensor parallel_scan_log(const at::Tensor& log_coeffs, const at::Tensor& log_values) {
  at::Tensor a_star = at::constant_pad_nd(at::cumsum(log_coeffs, 1), {0, 0, 1, 0});
  at::Tensor log_h0_plus_b_star = at::logcumsumexp(log_values - a_star, 1);
  at::Tensor log_h = a_star + log_h0_plus_b_star;
  return at::exp(log_h).slice(1, 1);
}

// x, w[d_in, GD], bias[GD], h0[batch, D] -> the nn.Linear weight [GD, d_in] (what a user's module
// holds; made once here, untimed) and the rest as they are. h0 is the state h_{-1} itself (not
// g of it), so its log is torch.log(h_0), as in the paper's code; h holds the T steps after it.
struct MinLayer {
  at::Tensor x, weight, bias, h0;
};

MinLayer min_layer(const Call& c) {
  MinLayer m;
  m.x = input(c, "x");
  m.weight = input(c, "w").t().contiguous();
  m.bias = input(c, "bias");
  m.h0 = input(c, "h0").unsqueeze(1);  // [batch, 1, D], as the paper's h_0
  return m;
}

// minGRU, log-space (Feng et al. 2024, appendix): k and h~ are w's first and second D columns.
at::Tensor mingru_h(const MinLayer& m) {
  std::vector<at::Tensor> kh = at::linear(m.x, m.weight, m.bias).chunk(2, -1);
  const at::Tensor& k = kh[0];
  at::Tensor log_z = -at::softplus(-k);
  at::Tensor log_coeffs = -at::softplus(k);
  at::Tensor log_h_0 = at::log(m.h0);
  at::Tensor log_tilde_h = log_g(kh[1]);
  return parallel_scan_log(log_coeffs, at::cat({log_h_0, log_z + log_tilde_h}, 1));
}

// minLSTM, log-space (Feng et al. 2024, appendix): f, i and h~ are w's D-column thirds in order.
at::Tensor minlstm_h(const MinLayer& m) {
  std::vector<at::Tensor> fih = at::linear(m.x, m.weight, m.bias).chunk(3, -1);
  at::Tensor diff = at::softplus(-fih[0]) - at::softplus(-fih[1]);
  at::Tensor log_f = -at::softplus(diff);
  at::Tensor log_i = -at::softplus(-diff);
  at::Tensor log_h_0 = at::log(m.h0);
  at::Tensor log_tilde_h = log_g(fih[2]);
  return parallel_scan_log(log_f, at::cat({log_h_0, log_i + log_tilde_h}, 1));
}

std::unique_ptr<Kernel> min_forward(const Call& c, at::Tensor (*h_of)(const MinLayer&)) {
  const std::string& form = text_param(c, "form");
  if (form != "log") {
    fail("form=" + form + ": the paper's PyTorch code is the log-space form (form=log)");
  }
  const MinLayer m = min_layer(c);
  return std::make_unique<Eager>(c, std::vector<std::string>{"h"},
                                 [m, h_of] { return std::vector<at::Tensor>{h_of(m)}; });
}

// A minimal layer's training step: h, then dx, dw, dbias, dh0 from h.backward(dh).
std::unique_ptr<Kernel> min_train(const Call& c, at::Tensor (*h_of)(const MinLayer&)) {
  MinLayer m = min_layer(c);
  for (at::Tensor* t : {&m.x, &m.weight, &m.bias, &m.h0}) *t = leaf(*t);
  const at::Tensor dh = input(c, "dh");
  return std::make_unique<Eager>(
      c, std::vector<std::string>{"h", "dx", "dw", "dbias", "dh0"},
      [m, dh, h_of] {
        at::Tensor h = h_of(m);
        h.backward(dh);
        return std::vector<at::Tensor>{h.detach(), m.x.grad(), m.weight.grad().t(), m.bias.grad(),
                                       m.h0.grad()};
      },
      std::vector<at::Tensor>{m.x, m.weight, m.bias, m.h0});
}

// torch.nn.LSTM(d_in, D, batch_first=True)(x, (h0, c0))[0]: its forward is this at::lstm call
// over the flat weights [w_ih, w_hh, b_ih, b_hh]. The reference's gate columns are PyTorch's
// i, f, g, o, so w_ih = w^T and w_hh = u^T (made once here, untimed).
std::unique_ptr<Kernel> lstm(const Call& c) {
  at::Tensor x = input(c, "x");
  at::Tensor h0 = input(c, "h0").unsqueeze(0), c0 = input(c, "c0").unsqueeze(0);
  at::Tensor b_ih = input(c, "bias");
  std::vector<at::Tensor> params = {input(c, "w").t().contiguous(), input(c, "u").t().contiguous(),
                                    b_ih, at::zeros_like(b_ih)};
  return std::make_unique<Eager>(c, std::vector<std::string>{"h"}, [=] {
    auto out = at::lstm(x, {h0, c0}, params, /*has_biases=*/true, /*num_layers=*/1,
                        /*dropout=*/0.0, /*train=*/false, /*bidirectional=*/false,
                        /*batch_first=*/true);
    return std::vector<at::Tensor>{std::get<0>(out)};
  });
}

// The LSTM's training step: nn.LSTM's forward in training mode, then h.backward(dh).
std::unique_ptr<Kernel> lstm_train(const Call& c) {
  at::Tensor x = leaf(input(c, "x"));
  at::Tensor h0 = leaf(input(c, "h0").unsqueeze(0)), c0 = leaf(input(c, "c0").unsqueeze(0));
  at::Tensor w_ih = leaf(input(c, "w").t().contiguous()),
             w_hh = leaf(input(c, "u").t().contiguous());
  at::Tensor b_ih = leaf(input(c, "bias"));
  at::Tensor b_hh = at::zeros_like(b_ih);
  const at::Tensor dh = input(c, "dh");
  return std::make_unique<Eager>(
      c, std::vector<std::string>{"h", "dx", "dw", "du", "dbias", "dh0", "dc0"},
      [=] {
        auto out = at::lstm(x, {h0, c0}, {w_ih, w_hh, b_ih, b_hh}, /*has_biases=*/true,
                            /*num_layers=*/1, /*dropout=*/0.0, /*train=*/true,
                            /*bidirectional=*/false, /*batch_first=*/true);
        at::Tensor h = std::get<0>(out);
        h.backward(dh);
        return std::vector<at::Tensor>{h.detach(),  x.grad(),  w_ih.grad().t(), w_hh.grad().t(),
                                       b_ih.grad(), h0.grad(), c0.grad()};
      },
      std::vector<at::Tensor>{x, h0, c0, w_ih, w_hh, b_ih});
}

}  // namespace

std::unique_ptr<Kernel> bind_scan(const Call& c) {
  if (c.op == "mingru") return min_forward(c, mingru_h);
  if (c.op == "minlstm") return min_forward(c, minlstm_h);
  if (c.op == "lstm") return lstm(c);
  if (c.op == "mingru_train") return min_train(c, mingru_h);
  if (c.op == "minlstm_train") return min_train(c, minlstm_h);
  if (c.op == "lstm_train") return lstm_train(c);
  return nullptr;
}

}  // namespace opbench::torch_plugin
