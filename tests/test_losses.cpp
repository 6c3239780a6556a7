// RGC (phase 1 and 2), AGC and confidence CE: values against direct double-precision transcriptions
// of SPEC §4/§5, gradient checks, and the numerical traps (saturated rows, empty clusters, empty masks).
#include <array>

#include "gcc/loss/agc.hpp"
#include "gcc/loss/confidence_ce.hpp"
#include "gcc/loss/rgc.hpp"
#include "gradcheck.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

namespace {

Tensor unit_rows(const Shape& s, uint64_t seed) {
  Tensor t = rand_tensor(s, seed);
  for (int64_t i = 0; i < s[0]; ++i) {
    double n = 0;
    for (int64_t j = 0; j < s[1]; ++j) n += t.at({i, j}) * t.at({i, j});
    for (int64_t j = 0; j < s[1]; ++j) t.at({i, j}) /= static_cast<float>(std::sqrt(n));
  }
  return t;
}

double dot(const Tensor& a, int64_t i, const Tensor& b, int64_t j) {
  double s = 0;
  for (int64_t c = 0; c < a.size(1); ++c) s += static_cast<double>(a.at({i, c})) * b.at({j, c});
  return s;
}

// SPEC §4, phase 2, literally: C = [z; z'; w0·v0; w1·v1; w2·v2], E = exp(s - rowmax) ⊙ W.
double rgc_phase2_reference(const Tensor& z, const Tensor& z2, const std::array<Tensor, 3>& v,
                            const std::array<Tensor, 3>& w, double tau) {
  const int64_t b = z.size(0);
  double total = 0;
  for (int64_t i = 0; i < b; ++i) {
    std::vector<double> s(static_cast<size_t>(5 * b)), W(static_cast<size_t>(5 * b), 1.0);
    for (int64_t j = 0; j < b; ++j) {
      s[static_cast<size_t>(j)] = dot(z, i, z, j) / tau;
      s[static_cast<size_t>(b + j)] = dot(z, i, z2, j) / tau;
      for (int k = 0; k < 3; ++k) {
        s[static_cast<size_t>((2 + k) * b + j)] = dot(z, i, v[static_cast<size_t>(k)], j) * w[static_cast<size_t>(k)].at({j}) / tau;
        if (j == i) W[static_cast<size_t>((2 + k) * b + j)] = w[static_cast<size_t>(k)].at({i});
      }
    }
    const double mx = *std::max_element(s.begin(), s.end());
    double pos = 0, den = 0;
    for (int64_t j = 0; j < 5 * b; ++j) {
      const double e = std::exp(s[static_cast<size_t>(j)] - mx) * W[static_cast<size_t>(j)];
      if (j >= b && j % b == i) pos += e;
      else den += e;
    }
    total += -std::log(pos / den);
  }
  return total / static_cast<double>(b);
}

// SPEC §4, AGC, literally (with 0·log 0 := 0).
double agc_reference(const Tensor& lx, const Tensor& lu, double lambda, double* ce_out, double* ne_out) {
  const int64_t b = lx.size(0), K = lx.size(1);
  auto softmax = [&](const Tensor& l) {
    std::vector<double> p(static_cast<size_t>(b * K));
    for (int64_t i = 0; i < b; ++i) {
      double mx = -1e300, s = 0;
      for (int64_t k = 0; k < K; ++k) mx = std::max(mx, static_cast<double>(l.at({i, k})));
      for (int64_t k = 0; k < K; ++k) s += std::exp(l.at({i, k}) - mx);
      for (int64_t k = 0; k < K; ++k) p[static_cast<size_t>(i * K + k)] = std::exp(l.at({i, k}) - mx) / s;
    }
    return p;
  };
  auto colnorm = [&](std::vector<double> p) {
    for (int64_t k = 0; k < K; ++k) {
      double n = 0;
      for (int64_t i = 0; i < b; ++i) n += p[static_cast<size_t>(i * K + k)] * p[static_cast<size_t>(i * K + k)];
      n = std::max(std::sqrt(n), 1e-12);
      for (int64_t i = 0; i < b; ++i) p[static_cast<size_t>(i * K + k)] /= n;
    }
    return p;
  };
  const std::vector<double> p = softmax(lx), ph = colnorm(p), qh = colnorm(softmax(lu));
  double ce = 0;
  for (int64_t r = 0; r < K; ++r) {
    std::vector<double> row(static_cast<size_t>(K));
    for (int64_t c = 0; c < K; ++c)
      for (int64_t i = 0; i < b; ++i) row[static_cast<size_t>(c)] += ph[static_cast<size_t>(i * K + r)] * qh[static_cast<size_t>(i * K + c)];
    const double mx = *std::max_element(row.begin(), row.end());
    double s = 0;
    for (double v : row) s += std::exp(v - mx);
    ce += -(row[static_cast<size_t>(r)] - mx - std::log(s));
  }
  ce /= static_cast<double>(K);
  std::vector<double> o(static_cast<size_t>(K));
  double tot = 0;
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t i = 0; i < b; ++i) o[static_cast<size_t>(k)] += p[static_cast<size_t>(i * K + k)];
    tot += o[static_cast<size_t>(k)];
  }
  double ne = std::log(static_cast<double>(K));
  for (double v : o) ne += v > 0 ? (v / tot) * std::log(v / tot) : 0.0;
  *ce_out = ce;
  *ne_out = ne;
  return ce + lambda * ne;
}

}  // namespace

TEST_CASE("rgc_loss phase 1: hand-computed value (self column in the denominator)") {
  // z = z' = I (b = 2, D = 2), tau = 1: row i sees s = [1, 0, 1, 0] (up to order), P = e / (2e + 2).
  Tensor z = Tensor::from_vector({1, 0, 0, 1}, Shape{2, 2});
  const double expect = -std::log(std::exp(1.0) / (2 * std::exp(1.0) + 2));
  check_values(gcc::rgc_loss(z, z.clone(), 1.f), {static_cast<float>(expect)}, 1e-6, 1e-6, "rgc phase 1");
}

TEST_CASE("rgc_loss phase 2 matches SPEC §4 transcribed in double precision") {
  const int64_t b = 5, D = 6;
  Tensor z = unit_rows(Shape{b, D}, 1), z2 = unit_rows(Shape{b, D}, 2);
  std::array<Tensor, 3> v = {unit_rows(Shape{b, D}, 3), unit_rows(Shape{b, D}, 4), unit_rows(Shape{b, D}, 5)};
  std::array<Tensor, 3> w = {rand_tensor(Shape{b}, 6, 0.5f, 1.2f), rand_tensor(Shape{b}, 7, 0.5f, 1.2f),
                             rand_tensor(Shape{b}, 8, 0.5f, 1.2f)};
  for (float tau : {0.1f, 0.5f}) {
    const double ref = rgc_phase2_reference(z, z2, v, w, tau);
    check_values(gcc::rgc_loss(z, z2, v, w, tau), {static_cast<float>(ref)}, 1e-5, 1e-5, "rgc phase 2");
  }
}

TEST_CASE("rgc_loss gradients (phase 1 and phase 2)") {
  const int64_t b = 3, D = 4;
  gradcheck("rgc phase 1", [](const std::vector<Tensor>& in) { return gcc::rgc_loss(in[0], in[1], 0.5f); },
            {unit_rows(Shape{b, D}, 11), unit_rows(Shape{b, D}, 12)});
  std::array<Tensor, 3> w = {rand_tensor(Shape{b}, 16, 0.5f, 1.2f), rand_tensor(Shape{b}, 17, 0.5f, 1.2f),
                             rand_tensor(Shape{b}, 18, 0.5f, 1.2f)};
  gradcheck("rgc phase 2",
            [&](const std::vector<Tensor>& in) { return gcc::rgc_loss(in[0], in[1], {in[2], in[3], in[4]}, w, 0.5f); },
            {unit_rows(Shape{b, D}, 11), unit_rows(Shape{b, D}, 12), unit_rows(Shape{b, D}, 13),
             unit_rows(Shape{b, D}, 14), unit_rows(Shape{b, D}, 15)});
}

TEST_CASE("rgc_loss stays finite on saturated rows") {
  // tau = 1e-3 puts similarities at +-1000: exp overflows without the log-sum-exp guards.
  Tensor z = Tensor::from_vector({1, 0, 0, 1}, Shape{2, 2});
  Tensor z2 = Tensor::from_vector({-1, 0, 0, -1}, Shape{2, 2});
  z.set_requires_grad(true);
  Tensor l = gcc::rgc_loss(z, z2, 1e-3f);
  CHECK(std::isfinite(l.item()));
  CHECK(l.item() == doctest::Approx(2000.0).epsilon(1e-4));  // -log(e^-1000 / e^1000)
  l.backward();
  for (float g : z.grad().to_vector()) CHECK(std::isfinite(g));
}

TEST_CASE("rgc_loss rejects bad shapes") {
  CHECK_THROWS_WITH_AS(gcc::rgc_loss(Tensor::zeros(Shape{4, 8}), Tensor::zeros(Shape{4, 7})),
                       doctest::Contains("rgc_loss (z vs z2): shapes must match, got [4, 8] and [4, 7]"), gcc::Error);
}

TEST_CASE("agc_loss matches SPEC §4 in double precision, with its two terms") {
  Tensor lx = rand_tensor(Shape{8, 5}, 21, -2, 2), lu = rand_tensor(Shape{8, 5}, 22, -2, 2);
  double ce = 0, ne = 0;
  const double ref = agc_reference(lx, lu, 2.0, &ce, &ne);
  gcc::AgcLoss l = gcc::agc_loss(lx, lu, 2.f);
  check_values(l.total, {static_cast<float>(ref)}, 1e-5, 1e-5, "agc total");
  check_values(l.consistency, {static_cast<float>(ce)}, 1e-5, 1e-5, "agc ce");
  check_values(l.entropy, {static_cast<float>(ne)}, 1e-6, 1e-5, "agc entropy");
}

TEST_CASE("agc_loss gradients") {
  gradcheck("agc", [](const std::vector<Tensor>& in) { return gcc::agc_loss(in[0], in[1], 2.f).total; },
            {rand_tensor(Shape{6, 4}, 23, -2, 2), rand_tensor(Shape{6, 4}, 24, -2, 2)});
}

TEST_CASE("agc_loss with an empty cluster: finite value and gradients (the release gives NaN)") {
  // Cluster 2 gets logit -1000 everywhere: its softmax mass underflows to exactly 0.
  Tensor lx = rand_tensor(Shape{6, 3}, 25, -1, 1), lu = rand_tensor(Shape{6, 3}, 26, -1, 1);
  for (int64_t i = 0; i < 6; ++i) lx.at({i, 2}) = lu.at({i, 2}) = -1000.f;
  double ce = 0, ne = 0;
  const double ref = agc_reference(lx, lu, 2.0, &ce, &ne);
  lx.set_requires_grad(true);
  lu.set_requires_grad(true);
  gcc::AgcLoss l = gcc::agc_loss(lx, lu, 2.f);
  CHECK(std::isfinite(l.total.item()));
  CHECK(l.total.item() == doctest::Approx(ref).epsilon(1e-5));
  l.total.backward();
  for (float g : lx.grad().to_vector()) CHECK(std::isfinite(g));
  for (float g : lu.grad().to_vector()) CHECK(std::isfinite(g));
}

TEST_CASE("confidence_ce_loss: mask, class balancing, empty mask") {
  // Rows 0-2 confident (class 0, 0, 1), row 3 not.
  Tensor weak = Tensor::from_vector({10, 0, 0, 9, 0, 0, 0, 12, 0, 1, 1, 0.5f}, Shape{4, 3});
  Tensor strong = rand_tensor(Shape{4, 3}, 31, -1, 1);
  gcc::ConfidenceCeLoss plain = gcc::confidence_ce_loss(weak, strong, 0.98f, false);
  CHECK(plain.masked == 3);
  CHECK(plain.mask == std::vector<uint8_t>{1, 1, 1, 0});
  auto nll = [&](int64_t i, int t) {
    double mx = -1e300, s = 0;
    for (int64_t k = 0; k < 3; ++k) mx = std::max(mx, static_cast<double>(strong.at({i, k})));
    for (int64_t k = 0; k < 3; ++k) s += std::exp(strong.at({i, k}) - mx);
    return -(strong.at({i, static_cast<int64_t>(t)}) - mx - std::log(s));
  };
  check_values(plain.loss, {static_cast<float>((nll(0, 0) + nll(1, 0) + nll(2, 1)) / 3)}, 1e-6, 1e-5, "plain");
  // Balanced: n = 3, class 0 count 2 -> w = 1.5, class 1 count 1 -> w = 3.
  gcc::ConfidenceCeLoss bal = gcc::confidence_ce_loss(weak, strong, 0.98f, true);
  const double expect = (1.5 * nll(0, 0) + 1.5 * nll(1, 0) + 3 * nll(2, 1)) / (1.5 + 1.5 + 3);
  check_values(bal.loss, {static_cast<float>(expect)}, 1e-6, 1e-5, "balanced");
  // Nothing above the threshold: zero loss, zero gradient, no crash.
  Tensor s2 = strong.clone();
  s2.set_requires_grad(true);
  gcc::ConfidenceCeLoss none = gcc::confidence_ce_loss(Tensor::zeros(Shape{4, 3}), s2, 0.98f, true);
  CHECK(none.masked == 0);
  CHECK(none.loss.item() == 0.f);
}
