// The scan family's training steps (mode fwd_bwd): `mingru_train` and `gru_train`, a whole
// forward plus backward pass of a recurrent layer timed as one: Feng et al. 2024's headline claim
// (minGRU's training step "175x faster for a sequence of length 512" than the GRU's, on a GPU).
//
// Each op takes the forward op's inputs and the incoming gradient dh = dL/dh[batch, T, D]
// (N(0, 1)) and returns h and the gradient of every input; it saves nothing, as it runs its own
// forward pass. Its float64 reference (reference/scan_train.hpp) is proven against central finite
// differences of the forward op's reference (harness/gradient_check.hpp). The tensors' scenarios
// (`dist`: normal, large_x) and distributions, and the agreement rule of h, are the forward op's,
// taken over from its registration, so the two cannot drift apart.
//
// minGRU has one form here, the plain linear recurrence: the log-space form (the forward op's
// `form=log`) computes the same h, and its backward through Heinsen's logcumsumexp is the same
// function's gradient; a training step's cost is the projections' GEMMs either way, and the form
// only changes how the scans round. The plain form is the one whose error rule is derived below.
//
// Implementations: ref, cpu.plain, cpu.fast (kernels/cpu/scan_train.hpp), and oneDNN's
// vanilla_gru forward_training + backward as the GRU's peer (kernels/cpu/onednn_rnn_train.hpp).
// float32 only: the 16-bit training step (mixed precision with float32 master weights) is not
// declared yet.
//
// Agreement. h is compared by the forward op's rule. Every gradient element gets its own bound,
// from the float64 pass's intermediate values (ref::MinGruTape, ref::GruTape: computed once per
// case and shared by the implementations' comparisons). u = 2^-24. Common to both ops:
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
#include "suites/scan_train.hpp"

#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/agreement.hpp"
#include "kernels/cpu/scan_train.hpp"
#include "reference/scalar_math.hpp"
#include "reference/scan.hpp"
#include "reference/scan_train.hpp"
#include "suites/common.hpp"
#include "suites/scan_agreement.hpp"

#ifdef OPBENCH_HAVE_ONEDNN
#include "kernels/cpu/onednn_rnn_train.hpp"
#endif

namespace opbench {
namespace {

using namespace suite;
constexpr double kU = scan::kUnitRoundoff;

std::size_t sz(std::int64_t n) {
  return static_cast<std::size_t>(n);
}

// --- per-element bounds ---------------------------------------------------------------------

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

// Output name -> the allowed error of each element.
using Bounds = std::map<std::string, std::vector<double>>;

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
          b["dh0"][sz(n * D + d)] = a * e_delta + e_a[k] * delta + kU * a * delta;
        } else {
          const double before = std::abs(tape.delta[k - sz(D)]);
          e_delta = a * e_delta + e_a[k] * delta + kU * (a * delta + before);
        }
      }
    }
  }
  ProjectionBounds pb = projection_bounds(x.p(), w.p(), tape.dk, e_dk, rows, d_in, G);
  b["dx"] = std::move(pb.dx);
  b["dw"] = std::move(pb.dw);
  b["dbias"] = std::move(pb.dbias);
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
  const std::vector<double> hp_cols = col_norms(hp_abs.data(), rows, D);
  const std::vector<double> rh_cols = col_norms(rh_abs.data(), rows, D);
  std::vector<double> one_hp(hp_abs), one_rh(rh_abs);
  for (double& v : one_hp) v += 1;
  for (double& v : one_rh) v += 1;
  const std::vector<double> one_hp_cols = col_norms(one_hp.data(), rows, D);
  const std::vector<double> one_rh_cols = col_norms(one_rh.data(), rows, D);
  const std::vector<double> dk_cols = col_norms(tp.dk.data(), rows, G);
  const std::vector<double> e_cols = col_norms(e_dk.data(), rows, G);
  const double sum_rows = std::sqrt(static_cast<double>(rows)) * kU;
  std::vector<double>& bu = b["du"];
  bu.resize(sz(D * G));
  for (std::int64_t i = 0; i < D; ++i) {
    for (std::int64_t j = 0; j < G; ++j) {
      const bool n_col = j >= 2 * D;
      const double v = n_col ? rh_cols[sz(i)] : hp_cols[sz(i)];
      const double one_v = n_col ? one_rh_cols[sz(i)] : one_hp_cols[sz(i)];
      bu[sz(i * G + j)] =
          v * (e_cols[sz(j)] + sum_rows * dk_cols[sz(j)]) + kappa * kU * one_v * dk_cols[sz(j)];
    }
  }
  ProjectionBounds pb = projection_bounds(x.p(), w.p(), tp.dk, e_dk, rows, d_in, G);
  b["dx"] = std::move(pb.dx);
  b["dw"] = std::move(pb.dw);
  b["dbias"] = std::move(pb.dbias);
  return b;
}

// The bounds of the last case compared, shared by the implementations of that case (and by the
// check after the timed runs): computing them runs the float64 pass once more. Keyed by the
// parameter point and a hash of the inputs' bytes.
class BoundCache {
 public:
  using Make = Bounds (*)(const TensorMap&, const Params&);
  explicit BoundCache(Make make) : make_(make) {}
  std::shared_ptr<const Bounds> get(const TensorMap& in, const Params& p) {
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

 private:
  Make make_;
  std::mutex mutex_;
  std::string key_;
  std::shared_ptr<const Bounds> bounds_;
};

// --- the ops ----------------------------------------------------------------------------------

// The forward op's axes without `form`, with this op's own quick and full values (the forward's:
// the quick sweep's case is the forward op's quick case).
std::vector<Axis> train_axes(const Op& fwd) {
  std::vector<Axis> axes = {
      int_axis("batch", {"2"}, {"8"}, "independent sequences"),
      int_axis("T", {"256"}, {"64", "512", "4096"}, "sequence length"),
      int_axis("d_in", {"128"}, {"512"}, "input features"),
      int_axis("D", {"128"}, {"512"}, "hidden units"),
  };
  axes.push_back(*fwd.find_axis("dist"));
  return axes;
}

Op make_train_op(const Op& fwd, const char* name, const char* title, const char* paper, int gates,
                 bool recurrent, std::function<double(const Params&)> flops) {
  Op op;
  op.suite = "scan";
  op.name = name;
  op.title = title;
  op.paper = paper;
  op.mode = Mode::fwd_bwd;
  op.axes = train_axes(fwd);
  op.derived["GD"] = [gates](const Params& p) { return gates * p.i("D"); };
  // The forward's inputs (same names, shapes and distributions), the incoming gradient, then h
  // and the gradients.
  for (const TensorDecl& t : fwd.tensors) {
    if (!t.output) op.tensors.push_back(t);
  }
  op.tensors.push_back(in("dh", {"batch", "T", "D"}, "normal(0,1)"));
  op.tensors.push_back(out("h", {"batch", "T", "D"}));
  op.tensors.push_back(out("dx", {"batch", "T", "d_in"}));
  op.tensors.push_back(out("dw", {"d_in", "GD"}));
  if (recurrent) op.tensors.push_back(out("du", {"D", "GD"}));
  op.tensors.push_back(out("dbias", {"GD"}));
  op.tensors.push_back(out("dh0", {"batch", "D"}));
  op.input_dist = fwd.input_dist;
  op.dtypes = {DType::f32};
  op.tolerance = [](DType) { return Tolerance{0, kU}; };  // the base; op.compare is the rule
  op.cost = [shape_helper = op, flops](const Params& p, DType dt) {
    return Cost{flops(p), tensor_bytes(shape_helper, p, dt)};
  };
  GradientOf g;
  g.forward = fwd.name;
  for (const TensorDecl& t : fwd.tensors) {
    if (!t.output) g.same[t.name] = t.name;
  }
  g.incoming = {{"dh", "h"}};
  g.gradients = {{"dx", "x"}, {"dw", "w"}, {"dbias", "bias"}, {"dh0", "h0"}};
  if (recurrent) g.gradients["du"] = "u";
  g.check_point = {{"batch", "2"}, {"T", "9"}, {"d_in", "5"}, {"D", "4"}, {"dist", "normal"}};
  op.gradient = std::move(g);
  // h by the forward op's rule; every gradient by its bound (the header).
  auto cache = std::make_shared<BoundCache>(recurrent ? gru_bounds : mingru_bounds);
  op.compare = [forward = fwd.compare, cache, recurrent](const TensorMap& i, const TensorMap& o,
                                                         const TensorMap& r, const Params& p,
                                                         Tolerance tol) {
    Agreement total = forward(i, o, r, p, tol);
    const std::shared_ptr<const Bounds> b = cache->get(i, p);
    std::vector<const char*> names = {"dx", "dw", "dbias", "dh0"};
    if (recurrent) names.push_back("du");
    for (const char* n : names) {
      merge_agreement(total, scan::compare_within(n, o.at(n), r.at(n), b->at(n)));
    }
    return total;
  };
  return op;
}

double rows_of(const Params& p) {
  return static_cast<double>(p.i("batch") * p.i("T"));
}

void register_mingru_train(Registry& reg) {
  const Op* fwd = reg.find_op("scan/mingru");
  if (!fwd) throw std::logic_error("mingru_train: its forward op scan/mingru is not registered");
  Op op = make_train_op(
      *fwd, "mingru_train",
      "minGRU training step: forward (x W, the scan) + backward (reverse scan, dx, dW, dbias, dh0)",
      "Feng et al. 2024 §3.1.2, differentiated (reference/scan_train.hpp); the paper's training "
      "speed-up",
      2, false, [](const Params& p) {
        // The projection's GEMM forward, dx and dW backward; the gates and both scans.
        const double gemm = 2 * rows_of(p) * static_cast<double>(p.i("d_in") * 2 * p.i("D"));
        return 3 * gemm + 30 * rows_of(p) * static_cast<double>(p.i("D"));
      });
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::mingru_train(F64(i.at("x")).p(), F64(i.at("w")).p(), F64(i.at("bias")).p(),
                      F64(i.at("h0")).p(), F64(i.at("dh")).p(), out64(o, "h"), out64(o, "dx"),
                      out64(o, "dw"), out64(o, "dbias"), out64(o, "dh0"), p.i("batch"), p.i("T"),
                      p.i("d_in"), p.i("D"));
  };
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "x"), in32(i, "w"), in32(i, "bias"), in32(i, "h0"), in32(i, "dh"), out32(o, "h"),
         out32(o, "dx"), out32(o, "dw"), out32(o, "dbias"), out32(o, "dh0"), p.i("batch"), p.i("T"),
         p.i("d_in"), p.i("D"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(cpu::plain::mingru_train)));
  op.impls.push_back(host_impl("cpu.fast", call(cpu::fast::mingru_train)));
  reg.add_op(std::move(op));
}

void register_gru_train(Registry& reg) {
  const Op* fwd = reg.find_op("scan/gru");
  if (!fwd) throw std::logic_error("gru_train: its forward op scan/gru is not registered");
  Op op = make_train_op(
      *fwd, "gru_train",
      "GRU training step: forward + backpropagation through time (dx, dW, dU, dbias, dh0)",
      "Feng et al. 2024 §2.1.2 (Cho et al. 2014), differentiated (reference/scan_train.hpp)", 3,
      true, [](const Params& p) {
        // x W and h U forward; dx, dW and d(h), dU backward; the gates.
        const double fan = static_cast<double>(p.i("d_in") + p.i("D"));
        const double gemm = 2 * rows_of(p) * fan * 3 * static_cast<double>(p.i("D"));
        return 3 * gemm + 40 * rows_of(p) * static_cast<double>(p.i("D"));
      });
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::gru_train(F64(i.at("x")).p(), F64(i.at("w")).p(), F64(i.at("u")).p(),
                   F64(i.at("bias")).p(), F64(i.at("h0")).p(), F64(i.at("dh")).p(), out64(o, "h"),
                   out64(o, "dx"), out64(o, "dw"), out64(o, "du"), out64(o, "dbias"),
                   out64(o, "dh0"), p.i("batch"), p.i("T"), p.i("d_in"), p.i("D"));
  };
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "x"), in32(i, "w"), in32(i, "u"), in32(i, "bias"), in32(i, "h0"), in32(i, "dh"),
         out32(o, "h"), out32(o, "dx"), out32(o, "dw"), out32(o, "du"), out32(o, "dbias"),
         out32(o, "dh0"), p.i("batch"), p.i("T"), p.i("d_in"), p.i("D"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(cpu::plain::gru_train)));
  op.impls.push_back(host_impl("cpu.fast", call(cpu::fast::gru_train)));
#ifdef OPBENCH_HAVE_ONEDNN
  op.impls.push_back(peer_impl("onednn", onednn::bind_gru_train()));
#endif
  reg.add_op(std::move(op));
}

}  // namespace

void register_scan_train_ops(Registry& reg) {
  register_mingru_train(reg);
  register_gru_train(reg);
}

}  // namespace opbench
