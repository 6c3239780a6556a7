// The tiny trainers the checkpoint fuzz target loads into and make_seeds saves from: the Fashion-MNIST
// preset at width 4 on 64 synthetic 28x28 grey images (the same config on both sides, so the seeds fit).
#pragma once
#include <memory>

#include "gcc/train/config_schema.hpp"
#include "gcc/train/data.hpp"
#include "gcc/train/end2end.hpp"
#include "gcc/train/presets.hpp"
#include "gcc/train/selflabel.hpp"

namespace fuzz {

inline gcc::train::Config tiny_config() {
  gcc::train::Config c = gcc::train::preset("fashion-mnist");
  c.base_width = 4;
  c.batch_size = 32;
  c.epochs = 2;
  c.switch_epoch = 1;
  c.eval_every = 0;
  c.loader_threads = 1;
  c.train_subset = 0;
  c.seed = 3;
  c.selflabel.batch_size = 32;
  c.selflabel.epochs = 2;
  return c;
}

inline gcc::train::TrainData tiny_data() {
  static const auto imgs = [] {
    auto d = std::make_shared<gcc::ImageDataset>();
    d->n = 64;
    d->height = d->width = 28;
    d->channels = 1;
    d->name = "fuzz-tiny";
    d->class_names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    d->pixels.resize(64 * 28 * 28);
    for (std::size_t i = 0; i < d->pixels.size(); ++i) d->pixels[i] = static_cast<uint8_t>(i * 37 % 251);
    for (int i = 0; i < 64; ++i) d->labels.push_back(i % 10);
    return std::shared_ptr<const gcc::ImageDataset>(d);
  }();
  return gcc::train::TrainData::single(imgs);
}

inline gcc::train::End2EndTrainer& tiny_end2end() {
  static gcc::train::End2EndTrainer t(tiny_config(), tiny_data());
  return t;
}
inline gcc::train::SelfLabelTrainer& tiny_selflabel() {
  static gcc::train::SelfLabelTrainer t(tiny_config(), tiny_data());
  return t;
}

}  // namespace fuzz
