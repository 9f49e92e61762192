// check_gradient(): a backward reference against finite differences of the forward reference.
#include "harness/gradient_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace opbench {

namespace {

// The check's parameter point for `op`: GradientOf::check_point, then values the backward point
// already has (the forward op shares its axes), then the first value of each axis's full sweep.
Params point_for(const Op& op, const std::map<std::string, std::string>& chosen) {
  Params p;
  for (const Axis& a : op.axes) {
    auto it = chosen.find(a.name);
    p.set(a.name, it != chosen.end() ? it->second : a.full.front());
  }
  return p;
}

Tensor as_f64(const Tensor& t) {
  Tensor r(DType::f64, t.shape());
  for (std::int64_t k = 0; k < t.numel(); ++k) r.data<double>()[k] = t.value_as_double(k);
  return r;
}

TensorMap forward_outputs(const Op& fwd, const TensorMap& in, const Params& p) {
  TensorMap out;
  for (const auto& t : fwd.tensors) {
    if (!t.output) continue;
    Tensor y(t.index ? DType::i64 : DType::f64, fwd.shape_of(t, p));
    y.poison();
    out[t.name] = y;
  }
  fwd.reference(in, out, p);
  return out;
}

// L = sum over incoming gradients of sum(dy * y), and sum |dy * y| (its rounding scale).
struct Loss {
  double value = 0, magnitude = 0;
};
Loss loss(const Op& fwd, const TensorMap& in, const Params& p, const GradientOf& g,
          const TensorMap& bwd_in) {
  const TensorMap y = forward_outputs(fwd, in, p);
  Loss l;
  for (const auto& [dy_name, y_name] : g.incoming) {
    const Tensor& dy = bwd_in.at(dy_name);
    const Tensor& yt = y.at(y_name);
    for (std::int64_t k = 0; k < yt.numel(); ++k) {
      const double term = dy.data<double>()[k] * yt.data<double>()[k];
      l.value += term;
      l.magnitude += std::abs(term);
    }
  }
  return l;
}

}  // namespace

GradientCheck check_gradient(const Registry& reg, const Op& bwd, const DataProvider& data,
                             std::uint64_t seed, std::int64_t max_elements) {
  GradientCheck r;
  r.op = bwd.full_name();
  try {
    if (!bwd.gradient) throw std::logic_error("not a backward op (no GradientOf)");
    const GradientOf& g = *bwd.gradient;
    const Op* fwd = reg.find_op(bwd.suite + "/" + g.forward);
    if (!fwd) throw std::logic_error("its forward op '" + g.forward + "' is not registered");

    const Params bp = point_for(bwd, g.check_point);
    std::map<std::string, std::string> shared = g.check_point;
    for (const auto& [name, value] : bp.items()) shared.emplace(name, value);
    const Params fp = point_for(*fwd, shared);
    r.point = bp.path();
    if (bwd.validate && !bwd.validate(bp).empty()) throw std::logic_error(bwd.validate(bp));

    // The forward inputs as the suite draws them (in float32, its scenario and preparation),
    // then held in float64: the check's arithmetic is all float64.
    TensorMap fin;
    const std::string dist = fp.has("dist") ? fp.str("dist") : "";
    std::uint64_t s = seed;
    for (const auto& t : fwd->tensors) {
      if (t.output) continue;
      Tensor x(t.dtype_in(DType::f32), fwd->shape_of(t, fp));
      std::string spec = fwd->input_dist ? fwd->input_dist(t, dist, x.dtype()) : "";
      if (spec.empty()) spec = t.dist == "$dist" ? dist : t.dist;
      data.fill(x, spec, s = s * 6364136223846793005ULL + 1442695040888963407ULL);
      fin[t.name] = x;
    }
    if (fwd->prepare_inputs) fwd->prepare_inputs(fin, fp);
    for (auto& [name, t] : fin) t = as_f64(t);

    // The backward inputs: the same tensors, incoming gradients N(0, 1), saved ones from the
    // forward outputs or computed by save.
    const TensorMap fout = forward_outputs(*fwd, fin, fp);
    TensorMap bin;
    bool call_save = false;
    for (const auto& t : bwd.tensors) {
      if (t.output) continue;
      Tensor x(DType::f64, bwd.shape_of(t, bp));
      if (auto it = g.same.find(t.name); it != g.same.end()) {
        x = fin.at(it->second);
      } else if (g.incoming.count(t.name)) {
        data.fill(x, "normal(0,1)", s = s * 6364136223846793005ULL + 1442695040888963407ULL);
      } else if (auto sv = g.saved.find(t.name); sv != g.saved.end()) {
        if (sv->second.empty()) {
          call_save = true;
        } else {
          x = fout.at(sv->second);
        }
      } else {
        throw std::logic_error("backward input '" + t.name +
                               "' is none of same, incoming or saved in its GradientOf");
      }
      if (x.shape() != bwd.shape_of(t, bp)) {
        throw std::logic_error("backward input '" + t.name +
                               "' has another shape than its forward tensor");
      }
      bin[t.name] = x;
    }
    if (call_save) {
      if (!g.save)
        throw std::logic_error("a saved input is computed but GradientOf::save is unset");
      g.save(bin, bp);
    }

    TensorMap grads;
    for (const auto& t : bwd.tensors) {
      if (!t.output) continue;
      Tensor y(DType::f64, bwd.shape_of(t, bp));
      y.poison();
      grads[t.name] = y;
    }
    bwd.reference(bin, grads, bp);

    std::mt19937_64 pick(seed ^ 0x9e3779b97f4a7c15ULL);
    for (const auto& [dname, xname] : g.gradients) {
      const Tensor& analytic = grads.at(dname);
      // Shares fin's storage: perturbed in place, restored after each element.
      Tensor x = fin.at(xname);
      if (analytic.shape() != x.shape()) {
        throw std::logic_error("gradient '" + dname + "' has another shape than '" + xname + "'");
      }
      std::vector<std::int64_t> elements;
      for (std::int64_t k = 0; k < x.numel(); ++k) elements.push_back(k);
      if (x.numel() > max_elements) {
        std::shuffle(elements.begin(), elements.end(), pick);
        elements.resize(static_cast<std::size_t>(max_elements));
        std::sort(elements.begin(), elements.end());
      }
      double* xv = x.data<double>();
      for (std::int64_t k : elements) {
        const double x0 = xv[k];
        const double h = 1e-6 * std::max(1.0, std::abs(x0));
        xv[k] = x0 + h;
        const Loss up = loss(*fwd, fin, fp, g, bin);
        xv[k] = x0 - h;
        const Loss down = loss(*fwd, fin, fp, g, bin);
        xv[k] = x0;
        const double fd = (up.value - down.value) / (2 * h);
        const double a = analytic.data<double>()[k];
        const double allowed = 1e-6 * (1 + std::abs(fd)) + 1e-10 * up.magnitude / h;
        const double err = std::abs(a - fd);
        ++r.checked;
        r.worst = std::max(r.worst, std::isfinite(err) ? err / allowed : INFINITY);
        if (!(err <= allowed) && r.mismatches.size() < 8) {
          char line[200];
          std::snprintf(line, sizeof line, "%s[%lld]: analytic %.9g, finite difference %.9g",
                        dname.c_str(), static_cast<long long>(k), a, fd);
          r.mismatches.emplace_back(line);
        }
      }
    }
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

}  // namespace opbench
