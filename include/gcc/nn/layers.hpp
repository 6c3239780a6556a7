// Layers with one input and one output: Conv2d, BatchNorm2d, Linear, ReLU, pooling and Sequential,
// initialised as SPEC §2 says (Kaiming-normal fan_out for convs, PyTorch's default for Linear).
#pragma once
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../ops/activation.hpp"
#include "../ops/batchnorm.hpp"
#include "../ops/conv.hpp"
#include "../ops/elementwise.hpp"
#include "../ops/linear.hpp"
#include "../ops/pool.hpp"
#include "../ops/shape.hpp"
#include "module.hpp"

namespace gcc {
namespace nn {

class Layer : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

// 2-D convolution; weight [out, in, k, k], optional bias [out].
class Conv2d : public Layer {
 public:
  Conv2d(int64_t in, int64_t out, int kernel, int stride, int padding, bool bias, Rng& rng)
      : stride_(stride), padding_(padding), has_bias_(bias) {
    Tensor w = Tensor::empty(Shape{out, in, kernel, kernel});
    rng.fill_normal(w, 0.0, std::sqrt(2.0 / static_cast<double>(out * kernel * kernel)));
    register_parameter("weight", w);
    if (bias) {  // PyTorch's default conv bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
      const double bound = 1.0 / std::sqrt(static_cast<double>(in * kernel * kernel));
      Tensor b = Tensor::empty(Shape{out});
      rng.fill_uniform(b, -bound, bound);
      register_parameter("bias", b);
    }
  }
  Tensor forward(const Tensor& x) override {
    Conv2dParams p;
    p.stride_h = p.stride_w = stride_;
    p.pad_h = p.pad_w = padding_;
    return conv2d(x, param(0), has_bias_ ? param(1) : Tensor(), p);
  }
  const Tensor& weight() { return param(0); }

 private:
  int stride_, padding_;
  bool has_bias_;
};

// BatchNorm2d with eps 1e-5, momentum 0.1; weight 1, bias 0, running mean 0, running var 1.
// set_group_sizes (usually through ScopedBatchGroups) makes a training forward normalise groups of rows
// with their own statistics, as separate forward passes would (batchnorm2d_grouped).
class BatchNorm2d : public Layer {
 public:
  explicit BatchNorm2d(int64_t channels, float eps = 1e-5f, float momentum = 0.1f)
      : eps_(eps), momentum_(momentum) {
    register_parameter("weight", Tensor::ones(Shape{channels}));
    register_parameter("bias", Tensor::zeros(Shape{channels}));
    register_buffer("running_mean", Tensor::zeros(Shape{channels}));
    register_buffer("running_var", Tensor::ones(Shape{channels}));
    // PyTorch keeps a 0-d int64 counter; stored as a 0-d float here, converted when checkpoints are written.
    register_buffer("num_batches_tracked", Tensor::zeros(Shape{}));
  }
  Tensor forward(const Tensor& x) override {
    if (training()) {  // num_batches_tracked += passes, on the tensor's device (no host round trip)
      const Tensor& n = buffer(2);
      const float passes = group_sizes_.empty() ? 1.f : static_cast<float>(group_sizes_.size());
      GCC_DISPATCH(unary_forward, n.device(), UnaryOp::AddScalar, passes, n, n);
    }
    if (group_sizes_.empty() && sync_ == nullptr)
      return batchnorm2d(x, param(0), param(1), buffer(0), buffer(1), training(), momentum_, eps_);
    return batchnorm2d_grouped(x, group_sizes_, param(0), param(1), buffer(0), buffer(1), training(), momentum_, eps_,
                               sync_);
  }
  // Rows per statistics group of the following training forwards (empty: the whole batch is one group).
  void set_group_sizes(std::vector<int64_t> sizes) { group_sizes_ = std::move(sizes); }
  // Synchronised batch norm (BatchNormSync, gcc/dist/batchnorm_sync.hpp): training statistics over every
  // process's rows; null (the default) = this process's rows only. `sync` must outlive the training steps.
  void set_sync(BatchNormSync* sync) { sync_ = sync; }
  BatchNormSync* sync() const { return sync_; }

 private:
  float eps_, momentum_;
  std::vector<int64_t> group_sizes_;
  BatchNormSync* sync_ = nullptr;
};

// Sets (or, with null, clears) the BatchNormSync of every BatchNorm2d under `root`.
inline void set_batchnorm_sync(Module& root, BatchNormSync* sync) {
  root.for_each_module([&](Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) bn->set_sync(sync);
  });
}

// While it lives, every BatchNorm2d under `root` treats its batch as consecutive groups of `sizes` rows,
// each with its own batch statistics: one forward pass over concatenated views then computes what one
// pass per view computes (SPEC §4's BatchNorm on the images of each pass alone). Restores one group on exit.
class ScopedBatchGroups {
 public:
  ScopedBatchGroups(Module& root, const std::vector<int64_t>& sizes) : root_(root) { set(sizes); }
  ~ScopedBatchGroups() { set({}); }
  ScopedBatchGroups(const ScopedBatchGroups&) = delete;
  ScopedBatchGroups& operator=(const ScopedBatchGroups&) = delete;

 private:
  void set(const std::vector<int64_t>& sizes) {
    root_.for_each_module([&](Module& m) {
      if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) bn->set_group_sizes(sizes);
    });
  }
  Module& root_;
};

// y = x W^T + b; weight [out, in] and bias [out] uniform in ±1/sqrt(in) (PyTorch's default).
class Linear : public Layer {
 public:
  Linear(int64_t in, int64_t out, Rng& rng, bool bias = true) : has_bias_(bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    Tensor w = Tensor::empty(Shape{out, in});
    rng.fill_uniform(w, -bound, bound);
    register_parameter("weight", w);
    if (bias) {
      Tensor b = Tensor::empty(Shape{out});
      rng.fill_uniform(b, -bound, bound);
      register_parameter("bias", b);
    }
  }
  Tensor forward(const Tensor& x) override { return linear(x, param(0), has_bias_ ? param(1) : Tensor()); }

 private:
  bool has_bias_;
};

class ReLU : public Layer {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
};

class MaxPool2d : public Layer {
 public:
  MaxPool2d(int kernel, int stride, int padding) : k_(kernel), s_(stride), p_(padding) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, k_, s_, p_); }

 private:
  int k_, s_, p_;
};

class AvgPool2d : public Layer {
 public:
  AvgPool2d(int kernel, int stride) : k_(kernel), s_(stride) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, k_, s_, 0); }

 private:
  int k_, s_;
};

// Children named "0", "1", ... as torch.nn.Sequential names them.
class Sequential : public Layer {
 public:
  template <typename L>
  L& add(std::shared_ptr<L> layer) {
    layers_.push_back(layer);
    return register_module(std::to_string(layers_.size() - 1), layer);
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = x;
    for (auto& l : layers_) y = l->forward(y);
    return y;
  }
  std::size_t size() const { return layers_.size(); }

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace nn
}  // namespace gcc
