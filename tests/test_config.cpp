// The one configuration (train/config*.hpp, presets.hpp, release_config.hpp): presets, the key table and
// its checks, YAML written and read back exactly, the release's experiment files mapped onto it,
// command-line overrides, and the errors that name the file or argument, the key and the line.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "data_test_util.hpp"
#include "gcc/train/config_file.hpp"
#include "gcc/train/config_schema.hpp"
#include "gcc/train/presets.hpp"

using namespace gcc;
using namespace gcc::train;

namespace {

std::string configs_dir() { return std::string(GCC_FIXTURE_DIR) + "/../../examples/configs"; }

using gcc_test::error_of;

Config read(const std::string& yaml, Stage stage = Stage::End2End, Config start = preset("cifar-10")) {
  apply_config_text(start, yaml, "config.yml", stage);
  return start;
}
std::string read_error(const std::string& yaml, Stage stage = Stage::End2End) {
  return error_of([&] { read(yaml, stage); });
}

}  // namespace

TEST_CASE("config: presets carry the release's values (SPEC §3-§5) and our CPU default") {
  const Config c = preset("cifar10");
  CHECK(c.dataset == "cifar-10");
  CHECK(c.preset == "cifar-10");
  CHECK(c.batch_size == 256);
  CHECK(c.backbone == "resnet18-cifar");
  CHECK(c.lr == 0.4f);
  CHECK(c.selflabel.batch_size == 1000);
  CHECK(c.selflabel.epochs == 200);
  CHECK(c.selflabel.cutout == 16);
  CHECK(c.selflabel.lr == 5e-5f);
  CHECK(c.strong_params().crop == 32);
  CHECK(preset("stl-10").batch_size == 96);
  CHECK(preset("stl-10").backbone == "resnet18-stl");
  CHECK(preset("stl-10").selflabel.cutout == 32);
  CHECK(preset("stl-10").selflabel.batch_size == 500);
  CHECK(preset("stl-10").strong_params().crop == 96);
  CHECK(preset("imagenet_dogs").num_clusters == 15);
  CHECK(preset("tiny-imagenet").backbone == "resnet34-stl");
  CHECK(preset("tiny-imagenet").num_clusters == 200);
  CHECK(preset("tiny-imagenet").batch_size == 128);
  CHECK(preset("fashion-mnist").channels == 1);
  CHECK(preset("fashion-mnist").base_width == 8);
  CHECK(preset("fashion-mnist").selflabel.epochs == 5);
  // CIFAR-20 normalises with CIFAR-100's statistics, as the release's end2end_cifar20.yml (SPEC §3).
  const Config c20 = preset("cifar-20");
  CHECK(c20.num_clusters == 20);
  CHECK(c20.mean == std::array<float, 3>{{0.5071f, 0.4867f, 0.4408f}});
  CHECK(c20.std == std::array<float, 3>{{0.2675f, 0.2565f, 0.2761f}});
  CHECK(c20.eval_params().mean[1] == 0.4867f);
  CHECK(c20.simclr_params().std[2] == 0.2761f);
  CHECK(c20.strong_params().mean[0] == 0.5071f);
  CHECK(preset("cifar-10").mean[0] == 0.4914f);
  for (const std::string& n : preset_names()) {
    CAPTURE(n);
    const Config p = preset(n);
    CHECK_NOTHROW(validate(p));
    CHECK_NOTHROW(p.model_config());
  }
  CHECK_THROWS_WITH_AS(preset("mnist"), doctest::Contains("unknown preset 'mnist'; known presets: cifar-10,"), gcc::Error);
  // one dataset-name normaliser for every spelling
  CHECK(canonical_dataset("imagenet10") == "imagenet-10");
  CHECK(canonical_dataset("ImageNet_Dogs") == "imagenet-dogs");
  CHECK(canonical_dataset("tiny_imagenet") == "tiny-imagenet");
  CHECK(canonical_dataset("CIFAR100") == "cifar-20");
  CHECK(canonical_dataset("fmnist") == "fashion-mnist");
}

TEST_CASE("config: the key table drives overrides and validation") {
  std::vector<std::string> keys;
  for (const ConfigField& f : config_fields()) {
    CAPTURE(f.key);
    CHECK(std::find(keys.begin(), keys.end(), f.key) == keys.end());  // one entry per key
    CHECK_FALSE(f.help.empty());
    CHECK_FALSE(f.type.empty());
    keys.push_back(f.key);
  }
  Config c = preset("fashion-mnist");
  apply_override(c, "lr", "0.05");
  apply_override(c, "switch-epoch", "7");
  apply_override(c, "phase1_agc", "yes");
  apply_override(c, "mean", "0.5");
  apply_override(c, "std", "[0.1, 0.2, 0.3]");
  apply_override(c, "data-root", "/tmp/a b");
  apply_override(c, "dataset", "CIFAR10");
  CHECK(c.lr == 0.05f);
  CHECK(c.switch_epoch == 7);
  CHECK(c.phase1_agc);
  CHECK(c.mean == std::array<float, 3>{{0.5f, 0.5f, 0.5f}});
  CHECK(c.std[2] == 0.3f);
  CHECK(c.data_root == "/tmp/a b");
  CHECK(c.dataset == "cifar-10");
  // the self-labelling stage: bare schedule keys mean the selflabel section
  apply_override(c, "epochs", "9", Stage::SelfLabel);
  apply_override(c, "confidence-threshold", "0.9", Stage::SelfLabel);
  apply_override(c, "selflabel.lr", "1e-4");
  apply_override(c, "eval_set", "train", Stage::SelfLabel);  // not a selflabel key: the top-level one
  CHECK(c.selflabel.epochs == 9);
  CHECK(c.epochs == 20);
  CHECK(c.selflabel.confidence_threshold == 0.9f);
  CHECK(c.selflabel.lr == 1e-4f);
  CHECK(c.eval_set == "train");
  // the release's keys work on the command line too
  apply_override(c, "criterion_kwargs.temperature", "0.2");
  apply_override(c, "optimizer_kwargs.lr", "0.3");
  apply_override(c, "optimizer_kwargs.lr", "2e-5", Stage::SelfLabel);
  CHECK(c.temperature == 0.2f);
  CHECK(c.lr == 0.3f);
  CHECK(c.selflabel.lr == 2e-5f);
  // errors name the argument, the key and what is expected
  CHECK(error_of([&] { apply_override(c, "learning_rate", "1"); }).find("learning_rate: unknown key; known keys: preset, auto_plan, minutes, dataset,") !=
        std::string::npos);
  CHECK(error_of([&] { apply_override(c, "epochs", "ten"); })
            .find("command line (--epochs ten): epochs: 'ten' is not an integer") != std::string::npos);
  CHECK(error_of([&] { apply_override(c, "lr", "1e99"); }).find("'1e99' is not a finite number") != std::string::npos);
  CHECK(error_of([&] { apply_override(c, "seed", "-3"); }).find("'-3' is not a non-negative integer") != std::string::npos);
  CHECK(error_of([&] { apply_override(c, "cosine", "maybe"); }).find("'maybe' is not true or false") != std::string::npos);
  CHECK(error_of([&] { apply_override(c, "mean", "[1, 2]"); }).find("is not one number or a list of 3") != std::string::npos);
  CHECK(error_of([&] { apply_override(c, "batch_size", "[1,"); }).find("the value is not valid YAML") != std::string::npos);
  // validation: every rule of the table, and the rules between keys
  Config v = preset("cifar-10");
  v.batch_size = 1;
  CHECK(error_of([&] { validate(v); }).find("config key 'batch_size' = 1 is invalid: must be >= 2") != std::string::npos);
  v = preset("cifar-10");
  v.eval_set = "val";
  CHECK(error_of([&] { validate(v); }).find("'eval_set' = val is invalid: must be one of: train, all, test") != std::string::npos);
  v = preset("cifar-10");
  v.selflabel.confidence_threshold = 1.f;
  CHECK(error_of([&] { validate(v); }).find("'selflabel.confidence_threshold' = 1 is invalid: must be in [0, 1)") !=
        std::string::npos);
  v = preset("cifar-10");
  v.selflabel.strong_crop = 24;
  CHECK(error_of([&] { validate(v); }).find("must be 0 or the evaluation crop") != std::string::npos);
  v = preset("cifar-10");
  v.eval_crop = 48;
  CHECK(error_of([&] { validate(v); }).find("'eval_crop' = 48 is invalid: must be <= eval_resize") != std::string::npos);
  v = preset("cifar-10");
  v.std[1] = 0.f;
  CHECK(error_of([&] { validate(v); }).find("'std' = [0.2023, 0, 0.201] is invalid") != std::string::npos);
  v = preset("cifar-10");
  v.device = "gpu";
  CHECK(error_of([&] { validate(v); }).find("unknown device 'gpu'; expected cpu, cuda, cuda:N or auto") != std::string::npos);
  v = preset("stl-10");
  v.backbone = "resnet50-stl";
  CHECK(error_of([&] { validate(v); }).find("'backbone' = resnet50-stl is invalid: must be one of:") != std::string::npos);
  // short backbone names take the family of the dataset, as the release's get_model
  v = preset("stl-10");
  v.backbone = "resnet34";
  CHECK(v.resolved_backbone() == "resnet34-stl");
  CHECK(preset("cifar-20").resolved_backbone() == "resnet18-cifar");
  // device auto: the CUDA backend is not part of this program
  CHECK(parse_device("auto") == Device::cpu());
  CHECK(parse_device("cuda:1") == Device::cuda(1));
}

TEST_CASE("config: the YAML of every preset reads back to the same configuration, bit for bit") {
  for (const std::string& n : preset_names()) {
    CAPTURE(n);
    Config c = preset(n);
    const std::string yaml = config_yaml(c, "test");
    CHECK(yaml.find("# test\npreset: " + n + "  ") == 0);
    CHECK(yaml.find("\nselflabel:  # self-labelling") != std::string::npos);
    Config back = read(yaml);
    CHECK(config_yaml(back, "test") == yaml);
    // values that need every digit, odd strings and every section
    c.lr = 0.123456789f;
    c.mean = {{0.1f, 1.f / 3.f, 2e-7f}};
    c.crop_scale_min = 0.1 + 0.2;
    c.data_root = "/data/with space: colon # hash";
    c.device = "cuda:1";
    c.dataset = "true";  // a word YAML would read as a boolean
    c.selflabel.ema_alpha = 0.99901f;
    c.selflabel.seed = 18446744073709551615ull;
    c.seed = 12345678901234ull;
    const std::string y2 = config_yaml(c);
    back = read(y2, Stage::End2End, Config{});
    CHECK(config_yaml(back) == y2);
    CHECK(back.lr == c.lr);
    CHECK(back.mean == c.mean);
    CHECK(back.crop_scale_min == c.crop_scale_min);
    CHECK(back.data_root == c.data_root);
    CHECK(back.dataset == "true");
    CHECK(back.selflabel.seed == c.selflabel.seed);
  }
  // the flat "key: value" text stored by earlier versions still reads (values quoted, lists as "a,b,c")
  const Config old = read("# gcc_train configuration\npreset: fashion-mnist\ndataset: fashion-mnist\ndata_root: \"\"\n"
                          "mean: \"0.286,0.286,0.286\"\nlr: 0.2\nphase1_agc: true\ndevice: cpu\n");
  CHECK(old.preset == "fashion-mnist");
  CHECK(old.channels == 1);
  CHECK(old.mean[2] == 0.286f);
  CHECK(old.lr == 0.2f);
}

TEST_CASE("config: the release's example files load with the SPEC values of their dataset") {
  struct Row {
    const char* file;
    const char* dataset;
    int64_t k, batch;
    int crop, resize, epochs;
    float mean0;
    const char* backbone;
    Stage stage;
  };
  const Row rows[] = {
      {"end2end_cifar10.yml", "cifar-10", 10, 256, 32, 40, 1000, 0.4914f, "resnet18-cifar", Stage::End2End},
      {"end2end_cifar20.yml", "cifar-20", 20, 256, 32, 40, 1000, 0.5071f, "resnet18-cifar", Stage::End2End},
      {"end2end_stl10.yml", "stl-10", 10, 96, 96, 112, 1000, 0.485f, "resnet18-stl", Stage::End2End},
      {"end2end_imagenet10.yml", "imagenet-10", 10, 96, 96, 112, 1000, 0.485f, "resnet18-stl", Stage::End2End},
      {"end2end_imagenet_dogs.yml", "imagenet-dogs", 15, 96, 96, 112, 1000, 0.485f, "resnet18-stl", Stage::End2End},
      {"end2end_tiny_imagenet.yml", "tiny-imagenet", 200, 128, 64, 80, 1000, 0.485f, "resnet34-stl", Stage::End2End},
      {"selflabel_cifar10.yml", "cifar-10", 10, 1000, 32, 40, 200, 0.4914f, "resnet18-cifar", Stage::SelfLabel},
      {"selflabel_cifar20.yml", "cifar-20", 20, 1000, 32, 40, 200, 0.5071f, "resnet18-cifar", Stage::SelfLabel},
      {"selflabel_stl10.yml", "stl-10", 10, 500, 96, 112, 100, 0.485f, "resnet18-stl", Stage::SelfLabel},
  };
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(configs_dir())) files += e.path().extension() == ".yml";
  CHECK(files == 9);
  for (const Row& r : rows) {
    const std::string file = r.file;
    CAPTURE(file);
    // end to end from any start (train_db_name restarts from its preset); self-labelling on top of the
    // end-to-end run of the same dataset, its bare keys meaning the selflabel section
    Config c = r.stage == Stage::End2End ? Config{} : preset(r.dataset);
    if (r.stage == Stage::SelfLabel) {
      c.selflabel.epochs = 3;
      c.selflabel.batch_size = 7;
    }
    apply_config_file(c, configs_dir() + "/" + file, r.stage);
    CHECK_NOTHROW(validate(c));
    CHECK(c.dataset == r.dataset);
    CHECK(c.num_clusters == r.k);
    CHECK(c.nheads == 1);
    CHECK(c.resolved_backbone() == r.backbone);
    CHECK(c.eval_resize == r.resize);
    CHECK(c.eval_crop == r.crop);
    CHECK(c.mean[0] == r.mean0);
    if (r.stage == Stage::End2End) {
      CHECK(c.batch_size == r.batch);
      CHECK(c.epochs == r.epochs);
      CHECK(c.train_size == r.crop);
      CHECK(c.crop_scale_min == 0.2);
      CHECK(c.hue == 0.1);
      CHECK(c.jitter_p == 0.8);
      CHECK(c.gray_p == 0.2);
      CHECK(c.lr == 0.4f);
      CHECK(c.momentum == 0.9f);
      CHECK(c.weight_decay == 1e-4f);
      CHECK(c.cosine);
      CHECK(c.lr_decay_rate == 0.1f);
      CHECK(c.temperature == 0.1f);
      CHECK(c.entropy_weight == 2.f);
      CHECK(c.num_neighbors == 5);
      CHECK(c.switch_epoch == 50);
      CHECK(c.refresh_every == 5);
      CHECK(c.memory_slots == 4);
    } else {
      CHECK(c.selflabel.batch_size == r.batch);
      CHECK(c.selflabel.epochs == r.epochs);
      CHECK(c.epochs == 1000);  // the end-to-end schedule is not touched
      CHECK(c.strong_params().crop == r.crop);
      CHECK(c.selflabel.num_strong_ops == 4);
      CHECK(c.selflabel.cutout == (r.crop == 32 ? 16 : 32));
      CHECK(c.selflabel.lr == 5e-5f);
      CHECK(c.selflabel.confidence_threshold == 0.98f);
      CHECK(c.selflabel.class_balancing);
      CHECK_FALSE(c.selflabel.use_ema);
    }
  }
}

TEST_CASE("config: errors name the file, the key, the line and what to do") {
  CHECK(read_error("criterion_kwargs:\n  temperature: abc\n")
            .find("config.yml: criterion_kwargs.temperature: (temperature) 'abc' is not a finite number (line 2)") !=
        std::string::npos);
  CHECK(read_error("criterion_kwargs:\n  temperatur: 0.1\n").find("config.yml: criterion_kwargs.temperatur: unknown key") !=
        std::string::npos);
  CHECK(read_error("epoch: 10\n").find("config.yml: epoch: unknown key; known keys: preset, auto_plan, minutes, dataset,") != std::string::npos);
  CHECK(read_error("epochs: 10.5\n").find("config.yml: epochs: '10.5' is not an integer (line 1)") != std::string::npos);
  CHECK(read_error("epochs: \"10\"\n").find("'10' is not an integer") != std::string::npos);
  CHECK(read_error("batch_size:\n").find("config.yml: batch_size: an empty value is not an integer") != std::string::npos);
  CHECK(read_error("epochs: 1\nepochs: 2\n").find("config.yml: epochs: duplicate key (line 2)") != std::string::npos);
  CHECK(read_error("a: [1,\n").find("config.yml: YAML syntax error at line ") != std::string::npos);
  CHECK(read_error("- 1\n- 2\n").find("config.yml: expected a mapping of keys") != std::string::npos);
  CHECK(read_error("preset: mnist\n").find("config.yml: preset: unknown preset 'mnist'") != std::string::npos);
  CHECK(read_error("train_db_name: cifar-11\n").find("train_db_name: unknown preset 'cifar-11'") != std::string::npos);
  CHECK(read_error("val_db_name: stl-10\n").find("val_db_name: 'stl-10' differs from the training dataset 'cifar-10'") !=
        std::string::npos);
  // what the trainers cannot honour
  CHECK(read_error("optimizer_kwargs:\n  nesterov: True\n").find("Nesterov momentum is not implemented") != std::string::npos);
  CHECK(read_error("optimizer: adam\n").find("optimizer: 'adam' is not supported: end-to-end training uses SGD") !=
        std::string::npos);
  CHECK(read_error("scheduler: step\n").find("scheduler: 'step' is not implemented (use cosine or constant)") !=
        std::string::npos);
  CHECK(read_error("model_kwargs:\n  features_dim: 64\n").find("the embedding is 128-d") != std::string::npos);
  CHECK(read_error("optimizer_kwargs:\n  betas: [0.9, 0.99]\n").find("'beta1' configures self-labelling") != std::string::npos);
  CHECK(read_error("augmentation_kwargs:\n  normalize:\n    mean: [0.5, 0.5, 0.5]\ntransformation_kwargs:\n  normalize:\n"
                   "    mean: [0.4, 0.4, 0.4]\n")
            .find("transformation_kwargs.normalize.mean: sets 'mean' to [0.4, 0.4, 0.4] but "
                  "'augmentation_kwargs.normalize.mean' set it to [0.5, 0.5, 0.5] (line 6)") != std::string::npos);
  CHECK(read_error("setup: selflabel\n").find("config.yml: setup: this file configures self-labelling (use gcc_selflabel)") !=
        std::string::npos);
  CHECK(read_error("setup: end2end\n", Stage::SelfLabel).find("this file configures end-to-end training (use gcc_train)") !=
        std::string::npos);
  CHECK(read_error("setup: scan\n").find("setup: 'scan' is not a setup") != std::string::npos);
  // self-labelling on top of an end-to-end run: the dataset cannot change
  Config e2e = preset("cifar-10");
  CHECK(error_of([&] { apply_config_file(e2e, configs_dir() + "/selflabel_cifar20.yml", Stage::SelfLabel); })
            .find("selflabel_cifar20.yml: train_db_name: 'cifar-20' but the end-to-end run was trained on 'cifar-10'") !=
        std::string::npos);
  CHECK(error_of([] { Config c; apply_config_file(c, "/nonexistent/config.yml"); }).find("/nonexistent/config.yml") !=
        std::string::npos);
  // a value the table checks, from a file: validate names the key
  Config c = read("lr: -1\n");
  CHECK(error_of([&] { validate(c); }).find("config key 'lr' = -1 is invalid: must be > 0") != std::string::npos);
}
