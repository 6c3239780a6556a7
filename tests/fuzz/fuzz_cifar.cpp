// Fuzz target: CIFAR binary record files (data/cifar.hpp read_cifar_file). Byte 0 picks the variant
// (bit 0: CIFAR-10 with 1 label byte / CIFAR-100 with 2; bit 1: coarse or fine label); the rest is the file.
#include "fuzz_util.hpp"
#include "gcc/data/cifar.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::cleanup_at_exit();
  fuzz::Input in{data, size};
  const uint8_t mode = in.byte();
  const bool c100 = mode & 1, fine = mode & 2;
  const std::string path = fuzz::scratch_file("batch.bin");
  fuzz::write_file(path, in.data, in.size);
  fuzz::expect_ok_or_error([&] {
    gcc::ImageDataset ds;
    ds.height = ds.width = 32;
    ds.channels = 3;
    if (c100) gcc::data_detail::read_cifar_file("fuzz_cifar", path, 2, fine ? 1 : 0, fine ? 100 : 20, ds, "");
    else gcc::data_detail::read_cifar_file("fuzz_cifar", path, 1, 0, 10, ds, "");
    if (ds.n != static_cast<int64_t>(ds.labels.size()) || ds.pixels.size() != ds.labels.size() * 3072) std::abort();
  });
  return 0;
}
