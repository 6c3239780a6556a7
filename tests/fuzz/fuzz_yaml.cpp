// Fuzz target: YAML configuration text (train/config_file.hpp apply_config_text) on a preset config, for
// the end-to-end and the self-labelling stage. Byte 0: bit 0 = stage, bits 1-3 = the starting preset.
// A result that validates must read back to itself through config_yaml (config_schema.hpp's promise).
#include "fuzz_util.hpp"
#include "gcc/train/config_file.hpp"

namespace {
const gcc::train::Config& start(int i) {
  static const std::vector<gcc::train::Config> presets = [] {
    std::vector<gcc::train::Config> v;
    for (const char* n : {"cifar-10", "cifar-20", "stl-10", "imagenet-10", "imagenet-dogs", "fashion-mnist"})
      v.push_back(gcc::train::preset(n));
    return v;
  }();
  return presets[static_cast<std::size_t>(i) % presets.size()];
}

void check_round_trip(const gcc::train::Config& cfg) {
  using namespace gcc::train;
  try {
    validate(cfg);
  } catch (const gcc::Error&) {
    return;  // not a valid config: nothing promised
  }
  const std::string text = config_yaml(cfg);
  Config back = start(0);
  try {
    apply_config_text(back, text, "round trip", Stage::End2End);
  } catch (const gcc::Error& e) {
    std::fprintf(stderr, "config_yaml output does not read back: %s\n%s", e.what(), text.c_str());
    std::abort();
  }
  if (config_yaml(back) != text) {
    std::fprintf(stderr, "config_yaml round trip differs:\n%s\n---\n%s", text.c_str(), config_yaml(back).c_str());
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gcc::train;
  fuzz::Input in{data, size};
  const uint8_t mode = in.byte();
  const Stage stage = (mode & 1) ? Stage::SelfLabel : Stage::End2End;
  Config cfg = start((mode >> 1) & 7);
  const std::string text = in.rest();
  fuzz::expect_ok_or_error([&] {
    apply_config_text(cfg, text, "fuzz.yaml", stage);
    check_round_trip(cfg);
  });
  return 0;
}
