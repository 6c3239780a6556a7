// Test helpers: finite-difference gradient checks (central differences, a sweep of step sizes)
// and value comparisons with a clear report of the worst element.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "gcc/gcc.hpp"

namespace gcc_test {

using gcc::Tensor;

// Random tensor with values in [lo, hi), seeded.
inline Tensor rand_tensor(const gcc::Shape& s, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  gcc::Rng rng(seed);
  Tensor t = Tensor::empty(s);
  rng.fill_uniform(t, lo, hi);
  return t;
}

// Checks the values of t against `expect`: |a - e| <= atol + rtol*|e| for every element.
inline void check_values(const Tensor& t, const std::vector<float>& expect, double atol = 1e-5,
                         double rtol = 1e-5, const std::string& what = "") {
  std::vector<float> got = t.to_vector();
  REQUIRE_MESSAGE(got.size() == expect.size(), what << ": " << got.size() << " values, expected "
                                                    << expect.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double e = expect[i], a = got[i];
    const bool ok = std::fabs(a - e) <= atol + rtol * std::fabs(e) || (std::isnan(e) && std::isnan(a));
    CHECK_MESSAGE(ok, what << " element " << i << ": got " << a << ", expected " << e);
    if (!ok) return;  // one report per tensor is enough
  }
}

struct GradcheckOptions {
  double atol = 2e-3;
  double rtol = 2e-2;
  std::vector<double> steps = {1e-2, 3e-3, 1e-3};
};

// f maps the inputs to one output tensor. The scalar checked is L = sum(f(x) * R) with a fixed random
// R, so every output element matters. For each input element the analytic dL/dx is compared with the
// central difference (L(x+h) - L(x-h)) / 2h for each step h; the element passes when any step agrees.
inline void gradcheck(const std::string& name, const std::function<Tensor(const std::vector<Tensor>&)>& f,
                      std::vector<Tensor> inputs, const GradcheckOptions& opt = {}) {
  INFO("gradcheck ", name);
  for (Tensor& x : inputs) x.set_requires_grad(true);
  Tensor y = f(inputs);
  Tensor r = rand_tensor(y.shape(), 12345, -1.f, 1.f);
  y.backward(r);
  std::vector<Tensor> analytic;
  for (const Tensor& x : inputs) {
    REQUIRE_MESSAGE(x.grad().defined(), name << ": no gradient reached an input of shape "
                                             << x.shape().str());
    analytic.push_back(x.grad().clone());
  }
  const std::vector<float> rv = r.to_vector();
  auto loss = [&]() {
    gcc::NoGrad ng;
    std::vector<float> v = f(inputs).to_vector();
    double s = 0;
    for (std::size_t i = 0; i < v.size(); ++i) s += static_cast<double>(v[i]) * rv[i];
    return s;
  };
  int checked = 0;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    float* p = inputs[k].data();
    const float* g = analytic[k].data();
    for (int64_t i = 0; i < inputs[k].numel(); ++i) {
      const float orig = p[i];
      double best = 1e300, best_num = 0;
      for (double h : opt.steps) {
        p[i] = static_cast<float>(orig + h);
        const double hp = static_cast<double>(p[i]) - orig;
        const double lp = loss();
        p[i] = static_cast<float>(orig - h);
        const double hm = orig - static_cast<double>(p[i]);
        const double lm = loss();
        p[i] = orig;
        const double num = (lp - lm) / (hp + hm);
        const double err = std::fabs(num - g[i]);
        if (err < best) best = err, best_num = num;
      }
      const bool ok = best <= opt.atol + opt.rtol * std::fabs(g[i]);
      CHECK_MESSAGE(ok, name << ": input " << k << " element " << i << ": analytic " << g[i]
                             << ", numeric " << best_num);
      if (!ok) return;
      ++checked;
    }
  }
  CHECK(checked > 0);
}

}  // namespace gcc_test
