// Fuzz target: IDX images and labels (data/idx.hpp read_idx), plain or gzip. Byte 0: bit 0 = also a
// labels file (the input after 3 option bytes is cut at 2 * (bytes 1-2)), bit 1 = the harness gzips the
// files (so zlib's inflate runs on valid streams; an input starting 1f 8b is read as gzip anyway),
// bit 2 = pass ten class names (labels checked < 10).
#include <zlib.h>

#include "fuzz_util.hpp"
#include "gcc/data/idx.hpp"

namespace {
void put(const std::string& path, const uint8_t* p, std::size_t n, bool gz) {
  if (!gz) return fuzz::write_file(path, p, n);
  gzFile f = gzopen(path.c_str(), "wb1");
  if (!f) std::abort();
  if (n && gzwrite(f, p, static_cast<unsigned>(n)) != static_cast<int>(n)) std::abort();
  gzclose(f);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::cleanup_at_exit();
  fuzz::Input in{data, size};
  const uint8_t mode = in.byte();
  const bool labels = mode & 1, gz = mode & 2, named = mode & 4;
  const std::size_t cut = labels ? std::min<std::size_t>(in.u16() * 2u, in.size) : in.size;
  const std::string images_path = fuzz::scratch_file("images-idx3-ubyte");
  const std::string labels_path = labels ? fuzz::scratch_file("labels-idx1-ubyte") : "";
  put(images_path, in.data, cut, gz);
  if (labels) put(labels_path, in.data + cut, in.size - cut, gz);
  std::vector<std::string> names;
  if (named) names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  fuzz::expect_ok_or_error([&] {
    const gcc::ImageDataset ds = gcc::read_idx(images_path, labels_path, names);
    if (ds.pixels.size() != static_cast<std::size_t>(ds.n * ds.height * ds.width) ||
        ds.labels.size() != static_cast<std::size_t>(ds.n))
      std::abort();
  });
  return 0;
}
