// Fuzz target: decoded-image cache files (data/image_cache.hpp map_image_cache). The expected hash, size
// and channel count are taken from the input's own header fields (when plausible) so that the reader
// gets past its staleness checks; a mapped cache is then read through: labels, names, every pixel.
#include <cstring>

#include "fuzz_util.hpp"
#include "gcc/data/image_cache.hpp"

namespace {
uint64_t field(const uint8_t* data, size_t size, size_t at) {
  uint64_t v = 0;
  if (size >= at + 8) std::memcpy(&v, data + at, 8);
  return v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::cleanup_at_exit();
  const std::string path = fuzz::scratch_file("images.gccimg");
  fuzz::write_file(path, data, size);
  const uint64_t h = field(data, size, 24), c = field(data, size, 40), hash = field(data, size, 48);
  const int side = h >= 1 && h <= 4096 ? static_cast<int>(h) : 4;
  const int channels = c == 1 ? 1 : 3;
  fuzz::expect_ok_or_error([&] {
    gcc::ImageDataset ds;
    std::string why;
    if (!gcc::map_image_cache(path, hash, side, channels, ds, &why)) return;
    if (static_cast<int64_t>(ds.labels.size()) != ds.n) std::abort();
    unsigned sum = 0;
    for (int64_t i = 0; i < ds.n; ++i) {
      const uint8_t* p = ds.image(i);
      for (int64_t k = 0; k < ds.image_bytes(); ++k) sum += p[k];
    }
    for (const std::string& s : ds.class_names) sum += static_cast<unsigned>(s.size());
    if (sum == 0xFFFFFFFFu) std::fprintf(stderr, "%s\n", ds.name.c_str());  // keeps the reads
  });
  return 0;
}
