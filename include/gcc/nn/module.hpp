// Module: the base of every layer and network. Children, parameters and buffers are registered by
// name in order, so full names come out as PyTorch's state_dict spells them ("layer1.0.bn1.weight").
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../autograd/parameters.hpp"
#include "../core/rng.hpp"

namespace gcc {
namespace nn {

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Train mode (BatchNorm uses batch statistics) or eval mode (running statistics); recursive.
  void train(bool on = true) {
    training_ = on;
    for (auto& c : children_) c.second->train(on);
  }
  void eval() { train(false); }
  bool training() const { return training_; }

  // Calls f(Module&) on this module and every module below it, depth first in registration order.
  template <typename F>
  void for_each_module(F&& f) {
    f(*this);
    for (auto& c : children_) c.second->for_each_module(f);
  }

  // Parameters and buffers with full dotted names, in registration order (depth first).
  std::vector<NamedTensor> named_parameters(const std::string& prefix = "") const {
    std::vector<NamedTensor> out;
    collect(prefix, out, /*buffers=*/false);
    return out;
  }
  std::vector<NamedTensor> named_buffers(const std::string& prefix = "") const {
    std::vector<NamedTensor> out;
    collect(prefix, out, /*buffers=*/true);
    return out;
  }
  // Both, parameters first for each module as PyTorch's state_dict orders them.
  std::vector<NamedTensor> state_dict(const std::string& prefix = "") const {
    std::vector<NamedTensor> out;
    collect_state(prefix, out);
    return out;
  }
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> out;
    for (auto& p : named_parameters()) out.push_back(p.tensor);
    return out;
  }
  // A registry of every parameter and buffer under its full name (for lookups by name).
  ParameterRegistry registry(const std::string& prefix = "") const {
    ParameterRegistry reg;
    for (auto& p : named_parameters(prefix)) reg.add_parameter(p.name, p.tensor);
    for (auto& b : named_buffers(prefix)) reg.add_buffer(b.name, b.tensor);
    return reg;
  }
  void zero_grad() const {
    for (auto& p : named_parameters()) p.tensor.zero_grad();
  }
  int64_t parameter_count() const {
    int64_t n = 0;
    for (auto& p : named_parameters()) n += p.tensor.numel();
    return n;
  }
  // Moves every parameter and buffer to `dev` (values copied; autograd names kept).
  void to(Device dev) {
    for (auto& p : params_) {
      Tensor moved = p.tensor.to(dev);
      if (!moved.same_storage(p.tensor)) {
        p.tensor = moved.detach();
        p.tensor.set_requires_grad(true).set_name(p.name);
      }
    }
    for (auto& b : buffers_) b.tensor = b.tensor.to(dev).detach();
    for (auto& c : children_) c.second->to(dev);
  }

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t) {
    t.set_requires_grad(true).set_name(name);
    params_.push_back(NamedTensor{name, t});
    return params_.back().tensor;
  }
  Tensor& register_buffer(const std::string& name, Tensor t) {
    buffers_.push_back(NamedTensor{name, t});
    return buffers_.back().tensor;
  }
  template <typename M>
  M& register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    m->train(training_);
    return *m;
  }
  // Parameters are looked up by index after registration (the vector may grow while constructing).
  Tensor& param(std::size_t i) { return params_[i].tensor; }
  Tensor& buffer(std::size_t i) { return buffers_[i].tensor; }

 private:
  static std::string join(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
  }
  void collect(const std::string& prefix, std::vector<NamedTensor>& out, bool buffers) const {
    for (auto& p : buffers ? buffers_ : params_) out.push_back(NamedTensor{join(prefix, p.name), p.tensor});
    for (auto& c : children_) c.second->collect(join(prefix, c.first), out, buffers);
  }
  void collect_state(const std::string& prefix, std::vector<NamedTensor>& out) const {
    for (auto& p : params_) out.push_back(NamedTensor{join(prefix, p.name), p.tensor});
    for (auto& b : buffers_) out.push_back(NamedTensor{join(prefix, b.name), b.tensor});
    for (auto& c : children_) c.second->collect_state(join(prefix, c.first), out);
  }

  bool training_ = true;
  std::vector<NamedTensor> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace nn
}  // namespace gcc
