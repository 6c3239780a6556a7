// Fuzz target: training checkpoints (io/checkpoint.hpp Checkpoint::load) read through every accessor,
// the stored config (train/checkpoint_model.hpp checkpoint_config), then loaded into tiny trainers built
// once: byte 0 bit 0 = end-to-end (train/end2end_checkpoint.hpp) or self-labelling
// (train/selflabel_checkpoint.hpp); the rest is the file.
#include "fuzz_util.hpp"
#include "gcc/io/checkpoint.hpp"
#include "gcc/train/checkpoint_model.hpp"
#include "gcc/train/end2end_checkpoint.hpp"
#include "gcc/train/selflabel_checkpoint.hpp"
#include "tiny_trainer.hpp"

namespace {
using gcc::io::Checkpoint;

void read_parts(const Checkpoint& ck) {
  fuzz::expect_ok_or_error([&] { (void)ck.epoch(); });
  fuzz::expect_ok_or_error([&] { (void)ck.meta_real("best_acc"); });
  fuzz::expect_ok_or_error([&] { (void)ck.rng("main"); });
  fuzz::expect_ok_or_error([&] { (void)ck.neighbours(); });
  fuzz::expect_ok_or_error([&] { (void)ck.degree_weights(); });
  fuzz::expect_ok_or_error([&] { (void)ck.feature_memory(); });
  fuzz::expect_ok_or_error([&] { (void)gcc::train::checkpoint_config(ck, "fashion-mnist"); });
  (void)ck.model_tensor_names();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::cleanup_at_exit();
  gcc::train::End2EndTrainer& e2e = fuzz::tiny_end2end();
  gcc::train::SelfLabelTrainer& sl = fuzz::tiny_selflabel();
  fuzz::Input in{data, size};
  const bool selflabel = in.byte() & 1;
  const std::string path = fuzz::scratch_file("checkpoint.safetensors");
  fuzz::write_file(path, in.data, in.size);
  fuzz::expect_ok_or_error([&] {
    const Checkpoint ck = Checkpoint::load(path);
    read_parts(ck);
    if (selflabel) gcc::train::load_selflabel_checkpoint(ck, sl);
    else gcc::train::load_end2end_checkpoint(ck, e2e);
  });
  return 0;
}
