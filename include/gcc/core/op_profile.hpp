// Per-op CPU time: while an OpProfile is recording, every CPU op that runs through GCC_DISPATCH adds its
// wall time and one call under its name (conv2d_forward, batchnorm2d_backward, ...). Off by default, and
// then one relaxed atomic load per op. For benchmarks and profiling, not for tests.
//
//   gcc::OpProfile prof;            // starts recording
//   train_step();
//   prof.stop();
//   for (const gcc::OpProfile::Row& r : prof.rows()) std::printf("%s %lld %.3f\n", r.op, r.calls, r.seconds);
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace gcc {

class OpProfile {
 public:
  struct Row {
    const char* op;        // the dispatch name
    int64_t calls = 0;
    double seconds = 0;    // wall time inside the op (nested dispatches are counted in both)
  };

  OpProfile() { start(); }
  ~OpProfile() { stop(); }
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  // One OpProfile records at a time; starting a second one stops the first.
  void start() { active().store(this, std::memory_order_release); }
  void stop() {
    OpProfile* self = this;
    active().compare_exchange_strong(self, nullptr);
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    rows_.clear();
  }
  // Rows by descending time.
  std::vector<Row> rows() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Row> out = rows_;
    std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) { return a.seconds > b.seconds; });
    return out;
  }
  double total_seconds() const {
    double s = 0;
    for (const Row& r : rows()) s += r.seconds;
    return s;
  }

  // Times one op call for the recording profile, if any (GCC_DISPATCH's CPU branch creates one).
  class Scope {
   public:
    explicit Scope(const char* op) : prof_(active().load(std::memory_order_acquire)), op_(op) {
      if (prof_) t0_ = std::chrono::steady_clock::now();
    }
    ~Scope() {
      if (prof_) prof_->add(op_, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    OpProfile* prof_;
    const char* op_;
    std::chrono::steady_clock::time_point t0_;
  };

 private:
  static std::atomic<OpProfile*>& active() {
    static std::atomic<OpProfile*> p{nullptr};
    return p;
  }
  void add(const char* op, double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (Row& r : rows_)
      if (r.op == op || std::string(r.op) == op) {
        ++r.calls;
        r.seconds += seconds;
        return;
      }
    rows_.push_back(Row{op, 1, seconds});
  }

  mutable std::mutex mutex_;
  std::vector<Row> rows_;
};

}  // namespace gcc
