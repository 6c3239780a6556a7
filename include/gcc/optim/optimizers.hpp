// SGD (momentum, weight decay) and Adam exactly as torch.optim.SGD / torch.optim.Adam update them,
// one kernel per parameter tensor (CPU reference + CUDA slot), plus an EMA of weights.
#pragma once
#include <cmath>
#include <vector>

#include "../autograd/parameters.hpp"
#include "../ops/dispatch.hpp"

namespace gcc {
namespace cpu {

// torch.optim.SGD (dampening 0, no Nesterov): g += wd·p; buf = g on the first step, else
// buf = momentum·buf + g; p -= lr·buf.
inline void sgd_update(const Tensor& param /* [*] */, const Tensor& grad /* [*] */, const Tensor& buf /* [*] */,
                       float lr, float momentum, float weight_decay, bool first_step) {
  float* p = param.data();
  const float* g = grad.data();
  float* m = buf.data();
  parallel_for(param.numel(), [&](int64_t i) {
    float d = g[i] + weight_decay * p[i];
    if (momentum != 0.f) {
      d = first_step ? d : momentum * m[i] + d;
      m[i] = d;
    }
    p[i] -= lr * d;
  }, 1 << 15);
}

// torch.optim.Adam (amsgrad off): g += wd·p; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
// p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps).
inline void adam_update(const Tensor& param /* [*] */, const Tensor& grad /* [*] */, const Tensor& m1 /* [*] */,
                        const Tensor& m2 /* [*] */, float lr, float beta1, float beta2, float eps,
                        float weight_decay, int64_t step) {
  float* p = param.data();
  const float* g = grad.data();
  float* m = m1.data();
  float* v = m2.data();
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  const float step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
  parallel_for(param.numel(), [&](int64_t i) {
    const float d = g[i] + weight_decay * p[i];
    m[i] = beta1 * m[i] + (1.f - beta1) * d;
    v[i] = beta2 * v[i] + (1.f - beta2) * d * d;
    p[i] -= step_size * (m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps));
  }, 1 << 15);
}

// shadow = decay·shadow + (1-decay)·param
inline void ema_update(const Tensor& shadow /* [*] */, const Tensor& param /* [*] */, float decay) {
  float* s = shadow.data();
  const float* p = param.data();
  parallel_for(param.numel(), [&](int64_t i) { s[i] = decay * s[i] + (1.f - decay) * p[i]; }, 1 << 15);
}

}  // namespace cpu

GCC_CUDA_SLOT(sgd_update, const Tensor&, const Tensor&, const Tensor&, float, float, float, bool)
GCC_CUDA_SLOT(adam_update, const Tensor&, const Tensor&, const Tensor&, const Tensor&, float, float, float, float,
              float, int64_t)
GCC_CUDA_SLOT(ema_update, const Tensor&, const Tensor&, float)

class Optimizer {
 public:
  explicit Optimizer(std::vector<NamedTensor> params) : params_(std::move(params)) {
    for (auto& p : params_)
      GCC_CHECK(p.tensor.is_contiguous(), "Optimizer: parameter '", p.name, "' is not contiguous");
  }
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad() {
    for (auto& p : params_) p.tensor.zero_grad();
  }
  void set_lr(float lr) { lr_ = lr; }
  float lr() const { return lr_; }
  const std::vector<NamedTensor>& params() const { return params_; }

 protected:
  std::vector<NamedTensor> params_;
  float lr_ = 0.f;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<NamedTensor> params, float lr, float momentum = 0.f, float weight_decay = 0.f)
      : Optimizer(std::move(params)), momentum_(momentum), wd_(weight_decay) {
    lr_ = lr;
    bufs_.resize(params_.size());
  }
  // Parameters without a gradient are skipped (and keep their momentum), as in PyTorch.
  void step() override {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const Tensor& p = params_[i].tensor;
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      const bool first = !bufs_[i].defined();
      if (first) bufs_[i] = Tensor::zeros(p.shape(), p.device());
      GCC_DISPATCH(sgd_update, p.device(), p, g.contiguous(), bufs_[i], lr_, momentum_, wd_, first);
    }
  }
  // State for checkpoints, indexed like params(); an undefined buffer: no step taken for that parameter.
  std::vector<Tensor>& momentum_buffers() { return bufs_; }
  const std::vector<Tensor>& momentum_buffers() const { return bufs_; }

 private:
  float momentum_, wd_;
  std::vector<Tensor> bufs_;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<NamedTensor> params, float lr, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f,
       float weight_decay = 0.f)
      : Optimizer(std::move(params)), b1_(beta1), b2_(beta2), eps_(eps), wd_(weight_decay) {
    lr_ = lr;
    m_.resize(params_.size());
    v_.resize(params_.size());
    steps_.assign(params_.size(), 0);
  }
  void step() override {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const Tensor& p = params_[i].tensor;
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      if (!m_[i].defined()) {
        m_[i] = Tensor::zeros(p.shape(), p.device());
        v_[i] = Tensor::zeros(p.shape(), p.device());
      }
      GCC_DISPATCH(adam_update, p.device(), p, g.contiguous(), m_[i], v_[i], lr_, b1_, b2_, eps_, wd_, ++steps_[i]);
    }
  }
  // State for checkpoints, indexed like params(): first/second moments (undefined before the first step
  // of that parameter) and the per-parameter step count.
  std::vector<Tensor>& exp_avgs() { return m_; }
  std::vector<Tensor>& exp_avg_sqs() { return v_; }
  std::vector<int64_t>& steps() { return steps_; }
  const std::vector<Tensor>& exp_avgs() const { return m_; }
  const std::vector<Tensor>& exp_avg_sqs() const { return v_; }
  const std::vector<int64_t>& steps() const { return steps_; }

 private:
  float b1_, b2_, eps_, wd_;
  std::vector<Tensor> m_, v_;
  std::vector<int64_t> steps_;
};

// Exponential moving average of weights (optional in self-labelling).
class Ema {
 public:
  Ema(const std::vector<NamedTensor>& params, float decay) : decay_(decay) {
    GCC_CHECK(decay >= 0.f && decay < 1.f, "Ema: decay must be in [0, 1), got ", decay);
    for (auto& p : params) {
      src_.push_back(p.tensor);
      shadow_.push_back(NamedTensor{p.name, p.tensor.detach().clone()});
    }
  }
  void update() {
    for (std::size_t i = 0; i < src_.size(); ++i)
      GCC_DISPATCH(ema_update, src_[i].device(), shadow_[i].tensor, src_[i].detach(), decay_);
  }
  const std::vector<NamedTensor>& shadow() const { return shadow_; }

 private:
  float decay_;
  std::vector<Tensor> src_;
  std::vector<NamedTensor> shadow_;
};

}  // namespace gcc
