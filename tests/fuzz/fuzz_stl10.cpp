// Fuzz target: STL-10 binary folder (data/stl10.hpp read_stl10). Byte 0 picks the split, bytes 1-2 the
// offset where the input (after 4 option bytes) is cut into the *_X.bin and *_y.bin contents (every
// part of the split gets the same two files), byte 3 bit 0 adds class_names.txt (the y bytes as text).
#include <filesystem>

#include "fuzz_util.hpp"
#include "gcc/data/stl10.hpp"

namespace {
void put(const std::string& dir, const std::string& name, const uint8_t* p, std::size_t n) {
  fuzz::write_file(dir + "/" + name, p, n);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::cleanup_at_exit();
  static const char* splits[] = {"train", "test", "unlabeled", "train+test", "train+unlabeled",
                                 "train+unlabeled+test", "bogus"};
  fuzz::Input in{data, size};
  const std::string split = splits[in.byte() % 7];
  const std::size_t want = in.u16() * 64u;
  const uint8_t flags = in.byte();
  const std::size_t cut = std::min(want, in.size);
  const std::string dir = fuzz::scratch_file("stl10_binary");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir);
  const uint8_t* x = in.data;
  const uint8_t* y = in.data + cut;
  const std::size_t ny = in.size - cut;
  for (const char* part : {"train", "test", "unlabeled"}) {
    put(dir, std::string(part) + "_X.bin", x, cut);
    put(dir, std::string(part) + "_y.bin", y, ny);
  }
  if (flags & 1) put(dir, "class_names.txt", y, ny);
  fuzz::expect_ok_or_error([&] {
    const gcc::ImageDataset ds = gcc::read_stl10(fuzz::scratch_dir(), split);
    if (ds.pixels.size() != static_cast<std::size_t>(ds.n) * 27648 || ds.labels.size() != static_cast<std::size_t>(ds.n))
      std::abort();
  });
  return 0;
}
