// Per-sample feature memory (SPEC §4): the last `slots` (4) embeddings pushed for every sample, and
// their mean (not re-normalised), from which the kNN graph is rebuilt. Kept in host memory.
#pragma once
#include <cstdint>
#include <vector>

#include "../core/tensor.hpp"

namespace gcc {

class FeatureMemory {
 public:
  FeatureMemory(int64_t samples, int64_t dim, int slots = 4)
      : n_(samples), d_(dim), slots_(slots),
        data_(static_cast<std::size_t>(samples * slots * dim), 0.f),
        count_(static_cast<std::size_t>(samples), 0), next_(static_cast<std::size_t>(samples), 0) {
    GCC_CHECK(samples > 0 && dim > 0 && slots > 0, "FeatureMemory: samples, dim and slots must be positive (got ",
              samples, ", ", dim, ", ", slots, ")");
  }

  // Stores row r of `emb` as the newest embedding of sample ids[r] (the oldest of 4 is dropped).
  void push(const std::vector<int64_t>& ids, const Tensor& emb /* [b, D] */) {
    check_dims("FeatureMemory::push", emb, 2, "[b, D]");
    GCC_CHECK(emb.size(0) == static_cast<int64_t>(ids.size()) && emb.size(1) == d_, "FeatureMemory::push: ",
              ids.size(), " ids with embeddings ", emb.shape().str(), ", expected [", ids.size(), ", ", d_, "]");
    const Tensor e = emb.detach().to(Device::cpu()).contiguous();
    for (std::size_t r = 0; r < ids.size(); ++r) {
      const int64_t i = ids[r];
      GCC_CHECK(i >= 0 && i < n_, "FeatureMemory::push: sample id ", i, " outside [0, ", n_, ")");
      int& slot = next_[static_cast<std::size_t>(i)];
      std::copy(e.data() + static_cast<int64_t>(r) * d_, e.data() + static_cast<int64_t>(r + 1) * d_,
                data_.begin() + (i * slots_ + slot) * d_);
      slot = (slot + 1) % slots_;
      int& c = count_[static_cast<std::size_t>(i)];
      if (c < slots_) ++c;
    }
  }

  // [N, D]: for each sample the mean of its stored embeddings (zeros for a sample never pushed).
  Tensor mean() const {
    Tensor m = Tensor::zeros(Shape{n_, d_});
    float* mp = m.data();
    for (int64_t i = 0; i < n_; ++i) {
      const int c = count_[static_cast<std::size_t>(i)];
      if (c == 0) continue;
      for (int s = 0; s < c; ++s)
        for (int64_t j = 0; j < d_; ++j) mp[i * d_ + j] += data_[static_cast<std::size_t>((i * slots_ + s) * d_ + j)];
      for (int64_t j = 0; j < d_; ++j) mp[i * d_ + j] /= static_cast<float>(c);
    }
    return m;
  }

  int64_t samples() const { return n_; }
  int64_t dim() const { return d_; }
  int stored(int64_t i) const { return count_[static_cast<std::size_t>(i)]; }
  int64_t samples_never_pushed() const {
    int64_t z = 0;
    for (int c : count_) z += c == 0;
    return z;
  }
  // Raw state for checkpoints.
  const std::vector<float>& raw() const { return data_; }
  const std::vector<int>& counts() const { return count_; }
  const std::vector<int>& next_slots() const { return next_; }
  void restore(std::vector<float> data, std::vector<int> counts, std::vector<int> next) {
    GCC_CHECK(data.size() == data_.size() && counts.size() == count_.size() && next.size() == next_.size(),
              "FeatureMemory::restore: state sizes do not match a memory of ", n_, " samples x ", slots_,
              " slots x ", d_, " dims");
    data_ = std::move(data);
    count_ = std::move(counts);
    next_ = std::move(next);
  }

 private:
  int64_t n_, d_;
  int slots_;
  std::vector<float> data_;   // [N, slots, D]
  std::vector<int> count_;    // stored embeddings per sample (<= slots)
  std::vector<int> next_;     // ring position of the next push per sample
};

}  // namespace gcc
