// Fuzz target: .npy files (io/npy.hpp read_npy), then the values as float and, for integer dtypes, int64.
#include "fuzz_util.hpp"
#include "gcc/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::cleanup_at_exit();
  const std::string path = fuzz::scratch_file("array.npy");
  fuzz::write_file(path, data, size);
  fuzz::expect_ok_or_error([&] {
    const gcc::io::NpyArray a = gcc::io::read_npy(path);
    const std::vector<float> f = a.f32();
    if (static_cast<int64_t>(f.size()) != a.numel()) std::abort();
    if (a.descr != "<f4" && a.descr != "<f8") (void)a.i64();
  });
  return 0;
}
