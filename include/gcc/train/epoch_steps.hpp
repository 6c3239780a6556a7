// The epoch and step loops both trainers share: the batches of one epoch from a given step on (a resumed epoch
// skips the batches before it; the loader reseeds every sample by (seed, epoch, index), so they are the
// same batches), a stop request honoured after the current step, and the epoch's clock.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

#include "../core/error.hpp"
#include "../data/loader.hpp"

namespace gcc {
namespace train {

struct EpochSteps {
  int64_t total = 0;       // batches in the epoch
  int64_t next = 0;        // the step after the last one run
  bool stopped = false;    // a stop request ended the epoch before its last batch
  double seconds = 0;      // time of the steps run here
};

// Calls step(batch, index, seconds_so_far) for every batch of `epoch` from `first_step` on; the seconds
// count from the first step of this call (for images/s in progress bars).
template <typename Step>
EpochSteps run_epoch_steps(Loader& loader, int epoch, int64_t first_step, const std::atomic<bool>* stop, Step&& step) {
  EpochSteps r;
  r.total = loader.batches_per_epoch();
  loader.start_epoch(epoch);
  Batch b;
  for (int64_t s = 0; s < first_step; ++s)
    GCC_CHECK(loader.next(b), "run_epoch_steps: cannot skip to step ", first_step, " of ", r.total, " in epoch ", epoch);
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  r.next = first_step;
  while (loader.next(b)) {
    step(b, r.next, elapsed);
    ++r.next;
    if (stop && stop->load()) {
      r.stopped = r.next < r.total;
      break;
    }
  }
  r.seconds = elapsed();
  return r;
}

// A trainer's fit(): epochs until the last one or a stop request, on_epoch called after each (also after
// one a stop cut short). Trainer has finished() and train_epoch() returning a report with `complete`.
template <typename Trainer, typename Report>
void fit_epochs(Trainer& t, const std::atomic<bool>* stop, const std::function<void(const Report&)>& on_epoch) {
  while (!t.finished()) {
    const Report r = t.train_epoch();
    if (on_epoch) on_epoch(r);
    if (!r.complete || (stop && stop->load())) return;
  }
}

}  // namespace train
}  // namespace gcc
