// Fuzz target: image decoding (data/image_decode.hpp decode_image_memory, PNG/JPEG/BMP) to 1 or 3
// channels, and the header probing the folder readers do on files (data/user_images.hpp read_headers).
// Byte 0: bit 0 = 1 or 3 channels, bit 1 = probe the header from a file instead of decoding.
#include "fuzz_util.hpp"
#include "gcc/data/image_decode.hpp"
#include "gcc/data/user_images.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::cleanup_at_exit();
  fuzz::Input in{data, size};
  const uint8_t mode = in.byte();
  const int channels = (mode & 1) ? 3 : 1;
  if (mode & 2) {
    fuzz::write_file(fuzz::scratch_file("image.png"), in.data, in.size);
    gcc::ImageList list;
    list.root = fuzz::scratch_dir();
    list.entries.push_back({"image.png", 0});
    const std::vector<gcc::data_detail::ImageHeader> h = gcc::data_detail::read_headers(list);
    if (h.size() != 1 || (h[0].ok && (h[0].width <= 0 || h[0].height <= 0))) std::abort();
    return 0;
  }
  fuzz::expect_ok_or_error([&] {
    const gcc::DecodedImage img = gcc::decode_image_memory(in.data, in.size, channels, "fuzz image");
    if (img.pixels.size() != static_cast<std::size_t>(img.width) * img.height * channels) std::abort();
  });
  return 0;
}
