// The per-element error bounds of the scan family's training steps (suites/scan_train.cpp): the
// agreement rule of every gradient they return.
//
// Agreement. h is compared by the forward op's rule. Every gradient element gets its own bound,
// from the float64 pass's intermediate values (ref::MinGruTape, ref::GruTape, ref::MinLstmTape,
// ref::LstmTape: computed once per case and shared by the implementations' comparisons).
// u = 2^-24. Common to all four ops:
// - Dot products and sums (dx = dk W^T over 2D or 3D columns, dW = x^T dk and dU over the
//   batch * T rows, dbias over the rows): the terms' propagated errors, all aligned (worst case),
//   plus sqrt(n) u sum |terms| for the float32 sum's own rounding (Higham & Mary 2019's
//   probabilistic bound for n terms in any order, the norm backward ops' rule), using
//   sum |a_i b_i| <= ||a||_2 ||b||_2 (Cauchy-Schwarz) so that a bound costs O(elements), not
//   another GEMM.
// minGRU: a first-order error analysis of the float32 evaluation, element by element.
// - The projection k = x W + bias: sqrt(d_in + 1) u (||x_r|| ||W_j|| + |bias_j|) (the same sum
//   rule); z = sigmoid(k_z), g(k_h) and g'(k_h) add 8 ulp each (the layer rule's allowance for
//   exp and sigmoid) plus their derivative times k's error; where k_h is within its error of 0,
//   g' may take the other branch (0.25 vs 1): error 1.
// - h_{t-1} (a factor of dk_z): E^h_t = a_t E^h_{t-1} + |delta a_t| |h_{t-1}| + |delta b_t| +
//   u (|a h| + 2 |b| + |h_t|), the forward scan with its gates' errors and three roundings.
// - delta_t = dh_t + a_{t+1} delta_{t+1} (the reverse scan): E_t = a_{t+1} E_{t+1} +
//   |delta a_{t+1}| |delta_{t+1}| + u (|a delta_{t+1}| + |delta_t|), E_{T-1} = 0.
// - dk_z = delta (c - h_{t-1}) z (1 - z), dk_h = delta z g'(k_h), dh0 = a_0 delta_0: each factor's
//   error times the others, plus one u per product.
//   Measured: 1e-3 .. 0.17 of the bound at T up to 4096 (the most where saturated gates make
//   a = 1 - z round to 1 at every step, a one-signed error); a weight gradient 4e-4 off is seen.
// GRU: a worst-case first-order bound through U (sum_i |U_ij| |e_i| over D channels at each of T
// steps) grows like (1 + ||U||_1)^T and says nothing at T = 256. Its rule is the forward GRU
// rule's convention instead: every quantity is within kappa u of its terms' magnitude, kappa =
// 8 (d_in + D + T) (suites/scan.cpp, layer_compare), the T covering errors carried through the
// steps of a contracting recurrence:
// - delta_t sums dh_t and the terms carried from step t+1 (delta (1 - z), d(rh) r,
//   [da_z | da_r] U_zr^T): error kappa u C_t, C_t = |dh_t| + |delta_{t+1} (1 - z)| + |d(rh) r| +
//   ||da_zr||_2 ||U_zr[i]||_2;
// - a product y = delta f_1 ... f_m of delta (error e, magnitude C) and forward factors f_i, each
//   within kappa u (1 + |f_i|): e P + u C (kappa sum_i (1 + |f_i|) prod_{j != i} |f_j| +
//   (m + 1) P), P = prod |f_i|; d(rh) = da_n U_n^T as a dot product; dU's h_{t-1} and r h_{t-1}
//   add kappa u ||1 + |h_{t-1}| ||_2 ||dk||_2.
//   It is loose: measured errors are 2e-5 .. 1e-3 of it, and the median bound is 0.08 |dx|,
//   0.26 |dW| at the quick sweep's 128 x 128, 1.3 |dx| and 0.64 |dW| at 512 x 512 (dh0: 1e-3 and
//   7e-3). It sees a dropped term or a missing batch entry at the tests' small D (kappa u ~ 2e-5),
//   not a few percent in a weight gradient at full size: a sharp GRU rule needs a probabilistic
//   model of the errors carried through U (a follow-up).
// minLSTM: minGRU's first-order analysis with its gates. f = sigmoid(k_f) and i = sigmoid(k_i)
// are within a relative (1 - f) e_k + 8u of themselves (sigmoid' = s (1 - s)); a = f / (f + i)
// and i' = i / (f + i) move by a i' (rel_f + rel_i) (da = a i' (df / f - di / i), di' = -da)
// plus 3u for the sum, the reciprocal and the product; h_t = a h_{t-1} + i' c and the reverse
// scan (a_{t+1} for 1 - z_{t+1}) as minGRU's; q = delta (h_{t-1} - c) a i' is a product of four
// factors with their errors, dk_f = q (1 - f) and dk_i = -q (1 - i) add 1 - f's error e_f + u
// and a rounding, dk_h = delta i' g'(k_h) as minGRU's dk_h.
// LSTM: the GRU's convention (kappa = 8 (d_in + D + T)):
// - delta_t = dh_t + dk_{t+1} U^T: error kappa u C_h, C_h = |dh_t| + ||dk_{t+1}||_2 ||U[i]||_2;
// - gamma_t = delta o (1 - tanh^2 c_t) + gamma_{t+1} f_{t+1}: the product's bound of delta
//   (product_bound) plus kappa u |gamma_{t+1} f_{t+1}| for the carried term; its magnitude
//   C_c = C_h o (1 - tanh^2 c) + |gamma_{t+1} f_{t+1}|;
// - dk_i = gamma g i (1 - i), dk_f = gamma c_{t-1} f (1 - f), dk_g = gamma i (1 - g^2),
//   dk_o = delta tanh(c) o (1 - o), dc0 = gamma_0 f_0: product_bound of gamma (or delta) and the
//   forward factors; dh0 = kappa u ||dk_0|| ||U[i]||; dU as the GRU's dU_zr with h_{t-1}.
//   Loose like the GRU's (measured errors 1e-3 .. 1e-2 of it at 128 x 128, T 256).
#include "suites/scan_train_bounds.hpp"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "reference/scalar_math.hpp"
#include "reference/scan.hpp"
#include "reference/scan_train.hpp"
#include "suites/common.hpp"
#include "suites/scan_agreement.hpp"

namespace opbench::scan_train {
namespace {

using namespace suite;
constexpr double kU = scan::kUnitRoundoff;

std::size_t sz(std::int64_t n) {
  return static_cast<std::size_t>(n);
}

// The bound of y = delta f_1 ... f_m (the header): delta within e, |delta| <= c.
double product_bound(double e, double c, double kappa, std::initializer_list<double> factors) {
  double all = 1, others = 0;
  for (double f : factors) all *= std::abs(f);
  std::size_t i = 0;
  for (double f : factors) {
    double term = 1 + std::abs(f);
    std::size_t j = 0;
    for (double g : factors) {
      if (j++ != i) term *= std::abs(g);
    }
    others += term;
    ++i;
  }
  return e * all + kU * c * (kappa * others + static_cast<double>(factors.size() + 1) * all);
}

// Row norms (over columns [c0, c0 + width)) of a [rows, cols] matrix.
std::vector<double> row_norms(const double* m, std::int64_t rows, std::int64_t cols,
                              std::int64_t c0, std::int64_t width) {
  std::vector<double> n(sz(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (std::int64_t j = c0; j < c0 + width; ++j) s += m[r * cols + j] * m[r * cols + j];
    n[sz(r)] = std::sqrt(s);
  }
  return n;
}

// Column norms of a [rows, cols] matrix.
std::vector<double> col_norms(const double* m, std::int64_t rows, std::int64_t cols) {
  std::vector<double> n(sz(cols), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) n[sz(j)] += m[r * cols + j] * m[r * cols + j];
  }
  for (double& v : n) v = std::sqrt(v);
  return n;
}

// Bounds of the projection's backward from dk[rows, cols] (exact) and its error e[rows, cols]:
//   dx = dk W^T  (over cols), dW = x^T dk and dbias = sum of dk rows (over rows).
struct ProjectionBounds {
  std::vector<double> dx, dw, dbias;
};

ProjectionBounds projection_bounds(const double* x, const double* w, const std::vector<double>& dk,
                                   const std::vector<double>& e, std::int64_t rows,
                                   std::int64_t d_in, std::int64_t cols) {
  const std::vector<double> w_rows = row_norms(w, d_in, cols, 0, cols);
  const std::vector<double> dk_rows = row_norms(dk.data(), rows, cols, 0, cols);
  const std::vector<double> e_rows = row_norms(e.data(), rows, cols, 0, cols);
  const std::vector<double> x_cols = col_norms(x, rows, d_in);
  const std::vector<double> dk_cols = col_norms(dk.data(), rows, cols);
  const std::vector<double> e_cols = col_norms(e.data(), rows, cols);
  const double sum_cols = std::sqrt(static_cast<double>(cols)) * kU;
  const double sum_rows = std::sqrt(static_cast<double>(rows)) * kU;
  ProjectionBounds b;
  b.dx.resize(sz(rows * d_in));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t i = 0; i < d_in; ++i) {
      b.dx[sz(r * d_in + i)] = w_rows[sz(i)] * (e_rows[sz(r)] + sum_cols * dk_rows[sz(r)]);
    }
  }
  b.dw.resize(sz(d_in * cols));
  for (std::int64_t i = 0; i < d_in; ++i) {
    for (std::int64_t j = 0; j < cols; ++j) {
      b.dw[sz(i * cols + j)] = x_cols[sz(i)] * (e_cols[sz(j)] + sum_rows * dk_cols[sz(j)]);
    }
  }
  b.dbias.assign(sz(cols), 0.0);
  std::vector<double> abs_sum(sz(cols), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      b.dbias[sz(j)] += e[sz(r * cols + j)];
      abs_sum[sz(j)] += std::abs(dk[sz(r * cols + j)]);
    }
  }
  for (std::int64_t j = 0; j < cols; ++j) b.dbias[sz(j)] += sum_rows * abs_sum[sz(j)];
  return b;
}

// The projection's bounds (projection_bounds) as the outputs dx, dw and dbias of `b`.
void add_projection_bounds(Bounds& b, const double* x, const double* w,
                           const std::vector<double>& dk, const std::vector<double>& e_dk,
                           std::int64_t rows, std::int64_t d_in, std::int64_t G) {
  ProjectionBounds pb = projection_bounds(x, w, dk, e_dk, rows, d_in, G);
  b["dx"] = std::move(pb.dx);
  b["dw"] = std::move(pb.dw);
  b["dbias"] = std::move(pb.dbias);
}

// The minimal layers' reverse scan, one step back: delta_{t-1} = dh_{t-1} + a_t delta_t carries
// a_t's error and delta_t's, plus one rounding of the product and one of the sum (`before` =
// |delta_{t-1}|); at t = 0, dh0 = a_0 delta_0 is the product alone (before = 0).
double carried_delta_error(double a, double e_a, double delta, double e_delta, double before) {
  return a * e_delta + e_a * delta + kU * (a * delta + before);
}

// The recurrent weight's gradient dU[i, j] = sum over rows of v[r, i] dk[r, j] for columns
// [c0, c0 + width) of dU[D, G], written into `du`: v (|v| given, [rows, D]) is a forward value
// within kappa u (1 + |v|) (the recurrent rules' convention), dk[rows, G] within e[rows, G]; the
// sum over rows adds sqrt(rows) u (Cauchy-Schwarz over the rows, as projection_bounds).
void recurrent_weight_bounds(const std::vector<double>& v_abs, const std::vector<double>& dk,
                             const std::vector<double>& e, std::int64_t rows, std::int64_t D,
                             std::int64_t G, std::int64_t c0, std::int64_t width, double kappa,
                             std::vector<double>& du) {
  std::vector<double> one_v(v_abs);
  for (double& v : one_v) v += 1;
  const std::vector<double> v_cols = col_norms(v_abs.data(), rows, D);
  const std::vector<double> one_v_cols = col_norms(one_v.data(), rows, D);
  const std::vector<double> dk_cols = col_norms(dk.data(), rows, G);
  const std::vector<double> e_cols = col_norms(e.data(), rows, G);
  const double sum_rows = std::sqrt(static_cast<double>(rows)) * kU;
  for (std::int64_t i = 0; i < D; ++i) {
    for (std::int64_t j = c0; j < c0 + width; ++j) {
      du[sz(i * G + j)] = v_cols[sz(i)] * (e_cols[sz(j)] + sum_rows * dk_cols[sz(j)]) +
                          kappa * kU * one_v_cols[sz(i)] * dk_cols[sz(j)];
    }
  }
}

}  // namespace

double g_prime(double k) {
  if (k >= 0) return 1.0;
  const double s = ref::sigmoid(k);
  return s * (1.0 - s);
}

Bounds mingru_bounds(const TensorMap& in, const Params& p) {
  const std::int64_t B = p.i("batch"), T = p.i("T"), d_in = p.i("d_in"), D = p.i("D");
  const std::int64_t rows = B * T, G = 2 * D;
  const F64 x(in.at("x")), w(in.at("w")), bias(in.at("bias")), h0(in.at("h0")), dh(in.at("dh"));
  std::vector<double> h(sz(rows * D)), dx(sz(rows * d_in)), dw(sz(d_in * G)), dbias(sz(G)),
      dh0(sz(B * D));
  ref::MinGruTape tape;
  ref::mingru_train(x.p(), w.p(), bias.p(), h0.p(), dh.p(), h.data(), dx.data(), dw.data(),
                    dbias.data(), dh0.data(), B, T, d_in, D, &tape);
  const double fn = 8 * kU;  // one exp, sigmoid or g: the layer rule's 8 ulp
  const double proj = std::sqrt(static_cast<double>(d_in + 1)) * kU;
  const std::vector<double> x_rows = row_norms(x.p(), rows, d_in, 0, d_in);
  const std::vector<double> w_cols = col_norms(w.p(), d_in, G);
  // The forward pass: the errors of a = 1 - z, c = g(k_h), g'(k_h), z (1 - z) and h_{t-1}.
  const std::size_t n_el = sz(rows * D);
  std::vector<double> e_a(n_el), e_c(n_el), e_gp(n_el), e_s(n_el), e_hp(n_el), e_z(n_el);
  for (std::int64_t n = 0; n < B; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      double e_h = 0.0;  // h0 is an input: exact
      for (std::int64_t t = 0; t < T; ++t) {
        const std::int64_t r = n * T + t;
        const std::size_t k = sz(r * D + d);
        const double kz = tape.k[sz(r * G + d)], kh = tape.k[sz(r * G + D + d)];
        const double ekz = proj * (x_rows[sz(r)] * w_cols[sz(d)] + std::abs(bias.v[sz(d)]));
        const double ekh = proj * (x_rows[sz(r)] * w_cols[sz(D + d)] + std::abs(bias.v[sz(D + d)]));
        const double z = ref::sigmoid(kz), s = z * (1 - z), c = ref::min_rnn_g(kh);
        const double gp = g_prime(kh), hp = t > 0 ? h[k - sz(D)] : h0.v[sz(n * D + d)];
        e_z[k] = s * ekz + fn * z;
        e_a[k] = e_z[k] + kU * (1 - z);
        e_s[k] = std::abs(1 - 2 * z) * e_z[k] + e_z[k] * e_z[k] + 2 * kU * s;
        e_c[k] = gp * ekh + fn * std::abs(c);
        if (std::abs(kh) <= ekh) {
          e_gp[k] = 1.0;  // float's k_h may fall on the other side of g's kink
        } else if (kh >= 0) {
          e_gp[k] = 0.0;
        } else {
          e_gp[k] = std::abs(gp * (1 - 2 * ref::sigmoid(kh))) * ekh + fn * gp;
        }
        e_hp[k] = e_h;
        // h_t = (1 - z) h_{t-1} + z c: the gates' errors, then three roundings.
        const double a = 1 - z, b = z * c;
        e_h = a * e_h + e_a[k] * std::abs(hp) + std::abs(c) * e_z[k] + z * e_c[k] +
              kU * (std::abs(a * hp) + 2 * std::abs(b) + std::abs(h[k]));
      }
    }
  }
  // The backward pass: delta_t = dh_t + a_{t+1} delta_{t+1}, then dk and dh0.
  std::vector<double> e_dk(sz(rows * G));
  Bounds b;
  b["dh0"].resize(sz(B * D));
  for (std::int64_t n = 0; n < B; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      double e_delta = 0.0;  // delta_{T-1} = dh_{T-1}: exact
      for (std::int64_t t = T - 1; t >= 0; --t) {
        const std::int64_t r = n * T + t;
        const std::size_t k = sz(r * D + d);
        const double delta = std::abs(tape.delta[k]);
        const double kh = tape.k[sz(r * G + D + d)];
        const double z = ref::sigmoid(tape.k[sz(r * G + d)]), s = z * (1 - z);
        const double hp = t > 0 ? h[k - sz(D)] : h0.v[sz(n * D + d)];
        const double q = std::abs(ref::min_rnn_g(kh) - hp), gp = g_prime(kh);
        const double e_q = e_c[k] + e_hp[k] + kU * q;
        // dk_z = delta (c - h_{t-1}) z (1 - z), dk_h = delta z g'(k_h): each factor's error
        // times the others, and the products' roundings.
        e_dk[sz(r * G + d)] =
            e_delta * q * s + delta * e_q * s + delta * q * e_s[k] + 4 * kU * delta * q * s;
        e_dk[sz(r * G + D + d)] =
            e_delta * z * gp + delta * e_z[k] * gp + delta * z * e_gp[k] + 3 * kU * delta * z * gp;
        const double a = 1 - z;
        if (t == 0) {
          b["dh0"][sz(n * D + d)] = carried_delta_error(a, e_a[k], delta, e_delta, 0.0);
        } else {
          const double before = std::abs(tape.delta[k - sz(D)]);
          e_delta = carried_delta_error(a, e_a[k], delta, e_delta, before);
        }
      }
    }
  }
  add_projection_bounds(b, x.p(), w.p(), tape.dk, e_dk, rows, d_in, G);
  return b;
}

Bounds gru_bounds(const TensorMap& in, const Params& p) {
  const std::int64_t B = p.i("batch"), T = p.i("T"), d_in = p.i("d_in"), D = p.i("D");
  const std::int64_t rows = B * T, G = 3 * D;
  const F64 x(in.at("x")), w(in.at("w")), u(in.at("u")), bias(in.at("bias")), h0(in.at("h0")),
      dh(in.at("dh"));
  std::vector<double> h(sz(rows * D)), dx(sz(rows * d_in)), dw(sz(d_in * G)), du(sz(D * G)),
      dbias(sz(G)), dh0(sz(B * D));
  ref::GruTape tp;
  ref::gru_train(x.p(), w.p(), u.p(), bias.p(), h0.p(), dh.p(), h.data(), dx.data(), dw.data(),
                 du.data(), dbias.data(), dh0.data(), B, T, d_in, D, &tp);
  const double kappa = 8.0 * static_cast<double>(d_in + D + T);
  const std::vector<double> u_zr = row_norms(u.p(), D, G, 0, 2 * D);
  const std::vector<double> u_n = row_norms(u.p(), D, G, 2 * D, D);
  const std::vector<double> dk_zr = row_norms(tp.dk.data(), rows, G, 0, 2 * D);
  const std::vector<double> dk_n = row_norms(tp.dk.data(), rows, G, 2 * D, D);
  auto prev = [&](std::int64_t n, std::int64_t t, std::int64_t i) {
    return t > 0 ? h[sz((n * T + t - 1) * D + i)] : h0.v[sz(n * D + i)];
  };
  // The magnitude of the terms step s hands back to dL/dh_{s-1}, channel i (0 past the end).
  auto carried = [&](std::int64_t n, std::int64_t s, std::int64_t i) {
    if (s >= T) return 0.0;
    const std::size_t k = sz((n * T + s) * D + i);
    return std::abs(tp.delta[k]) * (1 - tp.z[k]) + std::abs(tp.drh[k]) * tp.r[k] +
           dk_zr[sz(n * T + s)] * u_zr[sz(i)];
  };
  std::vector<double> e_dk(sz(rows * G)), hp_abs(sz(rows * D)), rh_abs(sz(rows * D));
  Bounds b;
  b["dh0"].resize(sz(B * D));
  for (std::int64_t n = 0; n < B; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t r = n * T + t;
      double e_n_norm = 0;
      for (std::int64_t i = 0; i < D; ++i) {
        const std::size_t k = sz(r * D + i);
        const double c = std::abs(dh.v[k]) + carried(n, t + 1, i), e = kappa * kU * c;
        const double z = tp.z[k], nn = tp.n[k], hp = prev(n, t, i);
        hp_abs[k] = std::abs(hp);
        rh_abs[k] = std::abs(tp.r[k] * hp);
        e_dk[sz(r * G + i)] =
            product_bound(e, c, kappa, {std::abs(nn) + std::abs(hp), z * (1 - z)});
        e_dk[sz(r * G + 2 * D + i)] = product_bound(e, c, kappa, {z, 1 - nn * nn});
        e_n_norm += e_dk[sz(r * G + 2 * D + i)] * e_dk[sz(r * G + 2 * D + i)];
      }
      e_n_norm = std::sqrt(e_n_norm);
      for (std::int64_t i = 0; i < D; ++i) {
        const std::size_t k = sz(r * D + i);
        // d(rh)_i = (da_n U_n^T)_i: a dot product of D terms.
        const double c = u_n[sz(i)] * dk_n[sz(r)];
        const double e = u_n[sz(i)] * e_n_norm + std::sqrt(static_cast<double>(D)) * kU * c;
        e_dk[sz(r * G + D + i)] =
            product_bound(e, c, kappa, {prev(n, t, i), tp.r[k] * (1 - tp.r[k])});
      }
    }
    for (std::int64_t i = 0; i < D; ++i) {
      b["dh0"][sz(n * D + i)] = kappa * kU * carried(n, 0, i);
    }
  }
  // dU_zr = sum over rows of h_{t-1} dk_zr, dU_n = sum of (r h_{t-1}) da_n.
  b["du"].resize(sz(D * G));
  recurrent_weight_bounds(hp_abs, tp.dk, e_dk, rows, D, G, 0, 2 * D, kappa, b["du"]);
  recurrent_weight_bounds(rh_abs, tp.dk, e_dk, rows, D, G, 2 * D, D, kappa, b["du"]);
  add_projection_bounds(b, x.p(), w.p(), tp.dk, e_dk, rows, d_in, G);
  return b;
}

Bounds minlstm_bounds(const TensorMap& in, const Params& p) {
  const std::int64_t B = p.i("batch"), T = p.i("T"), d_in = p.i("d_in"), D = p.i("D");
  const std::int64_t rows = B * T, G = 3 * D;
  const F64 x(in.at("x")), w(in.at("w")), bias(in.at("bias")), h0(in.at("h0")), dh(in.at("dh"));
  std::vector<double> h(sz(rows * D)), dx(sz(rows * d_in)), dw(sz(d_in * G)), dbias(sz(G)),
      dh0(sz(B * D));
  ref::MinLstmTape tape;
  ref::minlstm_train(x.p(), w.p(), bias.p(), h0.p(), dh.p(), h.data(), dx.data(), dw.data(),
                     dbias.data(), dh0.data(), B, T, d_in, D, &tape);
  const double fn = 8 * kU;
  const double proj = std::sqrt(static_cast<double>(d_in + 1)) * kU;
  const std::vector<double> x_rows = row_norms(x.p(), rows, d_in, 0, d_in);
  const std::vector<double> w_cols = col_norms(w.p(), d_in, G);
  auto k_error = [&](std::int64_t r, std::int64_t j) {
    return proj * (x_rows[sz(r)] * w_cols[sz(j)] + std::abs(bias.v[sz(j)]));
  };
  // The forward pass: the errors of f, i, a = f / (f + i), i' = i / (f + i), c = g(k_h), g'(k_h)
  // and h_{t-1}.
  const std::size_t n_el = sz(rows * D);
  std::vector<double> e_f(n_el), e_i(n_el), e_a(n_el), e_ip(n_el), e_c(n_el), e_gp(n_el),
      e_hp(n_el);
  for (std::int64_t n = 0; n < B; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      double e_h = 0.0;  // h0 is an input: exact
      for (std::int64_t t = 0; t < T; ++t) {
        const std::int64_t r = n * T + t;
        const std::size_t k = sz(r * D + d);
        const double kh = tape.k[sz(r * G + 2 * D + d)], ekh = k_error(r, 2 * D + d);
        const double f = ref::sigmoid(tape.k[sz(r * G + d)]);
        const double i = ref::sigmoid(tape.k[sz(r * G + D + d)]);
        // sigmoid's relative error: (1 - s) times k's error, and its own 8 ulp.
        const double rel_f = (1 - f) * k_error(r, d) + fn, rel_i = (1 - i) * k_error(r, D + d) + fn;
        const double a = f / (f + i), ip = i / (f + i), c = ref::min_rnn_g(kh), gp = g_prime(kh);
        const double hp = t > 0 ? h[k - sz(D)] : h0.v[sz(n * D + d)];
        e_f[k] = f * rel_f;
        e_i[k] = i * rel_i;
        // da = a i' (df / f - di / i), di' = -da; the sum, the reciprocal and the product round.
        e_a[k] = a * ip * (rel_f + rel_i) + 3 * kU * a;
        e_ip[k] = a * ip * (rel_f + rel_i) + 3 * kU * ip;
        e_c[k] = gp * ekh + fn * std::abs(c);
        if (std::abs(kh) <= ekh) {
          e_gp[k] = 1.0;  // float's k_h may fall on the other side of g's kink
        } else if (kh >= 0) {
          e_gp[k] = 0.0;
        } else {
          e_gp[k] = std::abs(gp * (1 - 2 * ref::sigmoid(kh))) * ekh + fn * gp;
        }
        e_hp[k] = e_h;
        // h_t = a h_{t-1} + i' c: the gates' errors, then two products and the sum.
        e_h = a * e_h + e_a[k] * std::abs(hp) + std::abs(c) * e_ip[k] + ip * e_c[k] +
              kU * (std::abs(a * hp) + std::abs(ip * c) + std::abs(h[k]));
      }
    }
  }
  // The backward pass: delta_t = dh_t + a_{t+1} delta_{t+1}, then dk and dh0.
  std::vector<double> e_dk(sz(rows * G));
  Bounds b;
  b["dh0"].resize(sz(B * D));
  for (std::int64_t n = 0; n < B; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      double e_delta = 0.0;  // delta_{T-1} = dh_{T-1}: exact
      for (std::int64_t t = T - 1; t >= 0; --t) {
        const std::int64_t r = n * T + t;
        const std::size_t k = sz(r * D + d);
        const double delta = std::abs(tape.delta[k]);
        const double kh = tape.k[sz(r * G + 2 * D + d)], gp = g_prime(kh);
        const double f = ref::sigmoid(tape.k[sz(r * G + d)]);
        const double i = ref::sigmoid(tape.k[sz(r * G + D + d)]);
        const double a = f / (f + i), ip = i / (f + i);
        const double hp = t > 0 ? h[k - sz(D)] : h0.v[sz(n * D + d)];
        const double diff = std::abs(hp - ref::min_rnn_g(kh));
        const double e_diff = e_hp[k] + e_c[k] + kU * diff;
        // q = delta (h_{t-1} - c) a i': each factor's error times the others, three products.
        const double q = delta * diff * a * ip;
        const double e_q = e_delta * diff * a * ip + delta * e_diff * a * ip +
                           delta * diff * (e_a[k] * ip + a * e_ip[k]) + 3 * kU * q;
        // dk_f = q (1 - f), dk_i = -q (1 - i): 1 - f within e_f + u (1 - f), one product.
        e_dk[sz(r * G + d)] = e_q * (1 - f) + q * (e_f[k] + 2 * kU * (1 - f));
        e_dk[sz(r * G + D + d)] = e_q * (1 - i) + q * (e_i[k] + 2 * kU * (1 - i));
        // dk_h = delta i' g'(k_h).
        e_dk[sz(r * G + 2 * D + d)] = e_delta * ip * gp + delta * e_ip[k] * gp +
                                      delta * ip * e_gp[k] + 3 * kU * delta * ip * gp;
        if (t == 0) {
          b["dh0"][sz(n * D + d)] = carried_delta_error(a, e_a[k], delta, e_delta, 0.0);
        } else {
          const double before = std::abs(tape.delta[k - sz(D)]);
          e_delta = carried_delta_error(a, e_a[k], delta, e_delta, before);
        }
      }
    }
  }
  add_projection_bounds(b, x.p(), w.p(), tape.dk, e_dk, rows, d_in, G);
  return b;
}

Bounds lstm_bounds(const TensorMap& in, const Params& p) {
  const std::int64_t B = p.i("batch"), T = p.i("T"), d_in = p.i("d_in"), D = p.i("D");
  const std::int64_t rows = B * T, G = 4 * D;
  const F64 x(in.at("x")), w(in.at("w")), u(in.at("u")), bias(in.at("bias")), h0(in.at("h0")),
      c0(in.at("c0")), dh(in.at("dh"));
  std::vector<double> h(sz(rows * D)), dx(sz(rows * d_in)), dw(sz(d_in * G)), du(sz(D * G)),
      dbias(sz(G)), dh0(sz(B * D)), dc0(sz(B * D));
  ref::LstmTape tp;
  ref::lstm_train(x.p(), w.p(), u.p(), bias.p(), h0.p(), c0.p(), dh.p(), h.data(), dx.data(),
                  dw.data(), du.data(), dbias.data(), dh0.data(), dc0.data(), B, T, d_in, D, &tp);
  const double kappa = 8.0 * static_cast<double>(d_in + D + T);
  const std::vector<double> u_rows = row_norms(u.p(), D, G, 0, G);
  const std::vector<double> dk_rows = row_norms(tp.dk.data(), rows, G, 0, G);
  // The magnitude of dk_s U^T, channel i: what step s hands back to dL/dh_{s-1} (0 past the end).
  auto carried_h = [&](std::int64_t n, std::int64_t s, std::int64_t i) {
    return s >= T ? 0.0 : dk_rows[sz(n * T + s)] * u_rows[sz(i)];
  };
  std::vector<double> e_dk(sz(rows * G)), hp_abs(sz(rows * D));
  Bounds b;
  b["dh0"].resize(sz(B * D));
  b["dc0"].resize(sz(B * D));
  for (std::int64_t n = 0; n < B; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t r = n * T + t;
      for (std::int64_t d = 0; d < D; ++d) {
        const std::size_t k = sz(r * D + d);
        const double* g = tp.gates.data() + r * G;
        const double ig = g[d], fg = g[D + d], gg = g[2 * D + d], og = g[3 * D + d];
        const double tc = std::tanh(tp.c[k]);
        const double cp = t > 0 ? tp.c[k - sz(D)] : c0.v[sz(n * D + d)];
        hp_abs[k] = std::abs(t > 0 ? h[k - sz(D)] : h0.v[sz(n * D + d)]);
        // delta_t = dh_t + dk_{t+1} U^T: within kappa u of its terms.
        const double c_h = std::abs(dh.v[k]) + carried_h(n, t + 1, d), e_h = kappa * kU * c_h;
        // gamma_t = delta o (1 - tanh^2 c) + gamma_{t+1} f_{t+1}: the first a product of delta,
        // the carried term within kappa u of its magnitude.
        const double carried_c =
            t + 1 < T ? std::abs(tp.delta_c[k + sz(D)]) * tp.gates[sz((r + 1) * G + D + d)] : 0.0;
        const double e_c =
            product_bound(e_h, c_h, kappa, {og, 1 - tc * tc}) + kappa * kU * carried_c;
        const double c_c = c_h * og * (1 - tc * tc) + carried_c;
        e_dk[sz(r * G + d)] = product_bound(e_c, c_c, kappa, {gg, ig * (1 - ig)});
        e_dk[sz(r * G + D + d)] = product_bound(e_c, c_c, kappa, {cp, fg * (1 - fg)});
        e_dk[sz(r * G + 2 * D + d)] = product_bound(e_c, c_c, kappa, {ig, 1 - gg * gg});
        e_dk[sz(r * G + 3 * D + d)] = product_bound(e_h, c_h, kappa, {tc, og * (1 - og)});
        if (t == 0) b["dc0"][sz(n * D + d)] = product_bound(e_c, c_c, kappa, {fg});
      }
    }
    for (std::int64_t d = 0; d < D; ++d) b["dh0"][sz(n * D + d)] = kappa * kU * carried_h(n, 0, d);
  }
  // dU = sum over rows of h_{t-1} dk.
  b["du"].resize(sz(D * G));
  recurrent_weight_bounds(hp_abs, tp.dk, e_dk, rows, D, G, 0, G, kappa, b["du"]);
  add_projection_bounds(b, x.p(), w.p(), tp.dk, e_dk, rows, d_in, G);
  return b;
}

std::shared_ptr<const Bounds> BoundCache::get(const TensorMap& in, const Params& p) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (const auto& [name, t] : in) {
    const auto* bytes = static_cast<const unsigned char*>(t.raw());
    const std::size_t n = sz(t.numel()) * dtype_size(t.dtype());
    for (char ch : name) hash = (hash ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
    for (std::size_t k = 0; k < n; ++k) hash = (hash ^ bytes[k]) * 1099511628211ULL;
  }
  const std::string key = p.path() + "#" + std::to_string(hash);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (key == key_ && bounds_) return bounds_;
  }
  auto made = std::make_shared<const Bounds>(make_(in, p));
  std::lock_guard<std::mutex> lock(mutex_);
  key_ = key;
  bounds_ = made;
  return made;
}

}  // namespace opbench::scan_train
