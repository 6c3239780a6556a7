// The consumer's program: two random embeddings, the RGC loss between them and its gradient through
// <gcc/core.hpp> only. Prints both; exits 0 only when they are finite and the gradient is not zero.
#include <gcc/core.hpp>

#include <cmath>
#include <cstdio>

int main() {
  try {
    gcc::Rng rng(7);
    gcc::Tensor z = gcc::Tensor::empty(gcc::Shape{8, 16}), z2 = gcc::Tensor::empty(gcc::Shape{8, 16});
    rng.fill_normal(z, 0, 1);
    rng.fill_normal(z2, 0, 1);
    z.set_requires_grad(true);
    gcc::Tensor loss = gcc::rgc_loss(gcc::l2_normalize(z, 1), gcc::l2_normalize(z2, 1), 0.1f);
    loss.backward();
    double grad_norm = 0;
    for (float g : z.grad().to_vector()) grad_norm += static_cast<double>(g) * g;
    grad_norm = std::sqrt(grad_norm);
    const double l = loss.item();
    std::printf("gcc_consumer: rgc_loss = %.6f, |d loss / d z| = %.6f\n", l, grad_norm);
    return std::isfinite(l) && std::isfinite(grad_norm) && grad_norm > 0 ? 0 : 1;
  } catch (const gcc::Error& e) {
    std::fprintf(stderr, "gcc_consumer: %s\n", e.what());
    return 1;
  }
}
