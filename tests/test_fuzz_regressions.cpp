// Regression tests for what fuzzing the parsers found (tests/fuzz, libFuzzer): each crashing input,
// reduced and embedded here, must now give a gcc::Error (or, for the image cache, "stale") naming the
// file and what is wrong. The original inputs are in tests/fuzz/regressions/<target>/.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "data_test_util.hpp"
#include "gcc/data/idx.hpp"
#include "gcc/data/image_cache.hpp"
#include "gcc/io/npy.hpp"
#include "gcc/io/safetensors.hpp"

using gcc_test::error_of;
using gcc_test::has;

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// A version 1.0 .npy file with the given header dict and data bytes.
std::vector<uint8_t> npy_with(const std::string& dict, const std::string& data) {
  std::string h = dict;
  h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string b = std::string("\x93NUMPY\x01\x00", 8) + char(h.size() & 255) + char(h.size() >> 8) + h + data;
  return bytes_of(b);
}

// A gcc-toolkit image cache header (72 bytes) with the given fields, then `meta` and zero padding to `pix`.
std::vector<uint8_t> cache_with(uint64_t n, uint64_t side, uint64_t c, uint64_t hash, uint64_t meta_bytes,
                                uint64_t pix, const std::vector<uint8_t>& meta) {
  std::vector<uint8_t> b(72 + meta.size(), 0);
  std::memcpy(b.data(), "GCCIMG\0\0", 8);
  const uint32_t version = 1, endian = 0x01020304u;
  std::memcpy(b.data() + 8, &version, 4);
  std::memcpy(b.data() + 12, &endian, 4);
  const uint64_t f[7] = {n, side, side, c, hash, meta_bytes, pix};
  std::memcpy(b.data() + 16, f, sizeof f);
  std::copy(meta.begin(), meta.end(), b.begin() + 72);
  b.resize(static_cast<std::size_t>(pix), 0);
  return b;
}

}  // namespace

TEST_CASE("fuzz regression npy: a shape dimension too large for int64 is an error, not std::out_of_range") {
  gcc_test::TempDir dir;
  const std::string p = dir.path + "/big.npy";
  gcc_test::write_bytes(p, npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000000000000,), }", ""));
  const std::string msg = error_of([&] { gcc::io::read_npy(p); });
  CHECK(has(msg, "read_npy: '" + p + "'"));
  CHECK(has(msg, "too large"));
}

TEST_CASE("fuzz regression npy: a shape whose byte size overflows is refused, not read as 0 bytes") {
  gcc_test::TempDir dir;
  const std::string p = dir.path + "/wrap.npy";  // 2^62 x 4 float32 = 2^66 bytes, 0 modulo 2^64
  gcc_test::write_bytes(p, npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", ""));
  const std::string msg = error_of([&] { gcc::io::read_npy(p); });
  CHECK(has(msg, "read_npy: '" + p + "'"));
  CHECK(has(msg, "too large for any file"));
}

TEST_CASE("fuzz regression idx: a header whose count x rows x cols overflows is a corrupt-header error") {
  gcc_test::TempDir dir;
  const std::string p = dir.path + "/images-idx3-ubyte";
  // magic 0x803, n = 2^32 - 1, 65536 x 65536 pixels: 2^64 bytes, past int64
  gcc_test::write_bytes(p, {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0, 0, 1, 0, 0});
  const std::string msg = error_of([&] { gcc::read_idx(p, ""); });
  CHECK(has(msg, "read_idx: '" + p + "'"));
  CHECK(has(msg, "corrupt header"));
}

TEST_CASE("fuzz regression image cache: a metadata size that wraps around is stale, not std::length_error") {
  gcc_test::TempDir dir;
  const std::string p = dir.path + "/wrap.gccimg";
  gcc_test::write_bytes(p, cache_with(0, 4, 3, 77, ~uint64_t{0} - 43, 4096, {}));  // 72 + meta wraps to 28
  gcc::ImageDataset ds;
  std::string why;
  CHECK_FALSE(gcc::map_image_cache(p, 77, 4, 3, ds, &why));
  CHECK(why == "truncated");
}

TEST_CASE("fuzz regression image cache: a count of images past the file's end is stale") {
  gcc_test::TempDir dir;
  const std::string p = dir.path + "/count.gccimg";
  // n x 48 bytes wraps to 0 modulo 2^64: the old size check passed and 2^60 labels were allocated
  gcc_test::write_bytes(p, cache_with(uint64_t{1} << 60, 4, 3, 77, 0, 4096, {}));
  gcc::ImageDataset ds;
  std::string why;
  CHECK_FALSE(gcc::map_image_cache(p, 77, 4, 3, ds, &why));
  CHECK(why == "truncated");
}

TEST_CASE("fuzz regression image cache: a class-name count larger than the metadata is stale") {
  gcc_test::TempDir dir;
  const std::string p = dir.path + "/names.gccimg";
  gcc_test::write_bytes(p, cache_with(0, 4, 3, 77, 4, 4096, {0xff, 0xff, 0xff, 0xff}));  // K = 2^32 - 1
  gcc::ImageDataset ds;
  std::string why;
  CHECK_FALSE(gcc::map_image_cache(p, 77, 4, 3, ds, &why));
  CHECK(why == "corrupt metadata");
}

TEST_CASE("fuzz regression safetensors: an empty tensor whose other dimensions overflow int64 is refused") {
  // [2, 2^63 - 1, 0]: 0 elements, but numel() and the strides multiply 2 by 2^63 - 1 (signed overflow)
  std::string h = R"({"a":{"dtype":"F32","shape":[2,9223372036854775807,0],"data_offsets":[0,0]}})";
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[static_cast<std::size_t>(i)] = static_cast<char>(h.size() >> (8 * i));
  const std::string msg = error_of([&] { gcc::io::Safetensors::parse(file + h, "empty.safetensors"); });
  CHECK(has(msg, "safetensors 'empty.safetensors': tensor 'a'"));
  CHECK(has(msg, "overflows"));
}
