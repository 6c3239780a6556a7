// Named parameters and buffers: a registry that keeps insertion order, rejects duplicate names and
// gives the optimiser and checkpoint code one list to walk (names as PyTorch's state_dict has them).
#pragma once
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tape.hpp"

namespace gcc {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

class ParameterRegistry {
 public:
  // A trainable tensor: requires_grad is switched on and the name is stored on the tensor.
  Tensor add_parameter(const std::string& name, Tensor t) {
    insert(name, t, params_);
    t.set_requires_grad(true).set_name(name);
    return t;
  }
  // A non-trainable state tensor (BatchNorm running statistics, num_batches_tracked).
  Tensor add_buffer(const std::string& name, Tensor t) {
    insert(name, t, buffers_);
    t.set_name(name);
    return t;
  }
  const std::vector<NamedTensor>& parameters() const { return params_; }
  const std::vector<NamedTensor>& buffers() const { return buffers_; }

  // Parameter or buffer by its full name; throws naming the closest kind of mistake.
  Tensor get(const std::string& name) const {
    auto it = index_.find(name);
    GCC_CHECK(it != index_.end(), "ParameterRegistry::get: no parameter or buffer named '", name,
              "' (", params_.size(), " parameters and ", buffers_.size(), " buffers registered)");
    return it->second.first ? params_[it->second.second].tensor : buffers_[it->second.second].tensor;
  }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }

  void zero_grad() const {
    for (const NamedTensor& p : params_) p.tensor.zero_grad();
  }
  int64_t parameter_count() const {
    int64_t n = 0;
    for (const NamedTensor& p : params_) n += p.tensor.numel();
    return n;
  }

 private:
  void insert(const std::string& name, const Tensor& t, std::vector<NamedTensor>& list) {
    GCC_CHECK(!name.empty(), "ParameterRegistry: empty name");
    GCC_CHECK(t.defined(), "ParameterRegistry: tensor '", name, "' is undefined");
    GCC_CHECK(!contains(name), "ParameterRegistry: the name '", name, "' is already registered");
    index_[name] = {&list == &params_, list.size()};
    list.push_back(NamedTensor{name, t});
  }
  std::vector<NamedTensor> params_, buffers_;
  std::unordered_map<std::string, std::pair<bool, std::size_t>> index_;
};

}  // namespace gcc
