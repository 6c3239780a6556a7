// stb_image / stb_image_write (Debian libstb-dev) for the toolkit's image decoding (data/image_decode.hpp)
// and PNG writing (io/png.hpp): this header declares their functions; the implementation is compiled
// ONCE per program, not in every translation unit.
//
// With CMake, linking gcc::toolkit provides it (the static library libgcc_toolkit.a compiles it from
// generated .cpp files). Without CMake, compile it in exactly one .cpp of the program:
//     #define GCC_STB_IMPLEMENTATION
//     #include <gcc/io/stb.hpp>
// (any other gcc header may come before or after; the -I for stb_image.h, /usr/include/stb on Debian,
// is needed everywhere). What is compiled: stb_image with the PNG and BMP decoders only (JPEG files are
// decoded by libjpeg-turbo, data/jpeg_decode.hpp: stb 2.27's JPEG decoder writes out of bounds on bad
// Huffman tables; other formats are rejected as the dataset readers expect; STBI_ONLY_*), and all of
// stb_image_write, with
// external linkage (GCC_STB_IMAGE_IMPLEMENTATION / GCC_STB_IMAGE_WRITE_IMPLEMENTATION compile one of the
// two; gcc::toolkit has them in two objects). A program that compiles its own stb_image or
// stb_image_write implementation (external linkage; stb_image with at least these decoders) must not
// compile that one here too; with gcc::toolkit the linker takes the program's copy and leaves the
// library's object unused. stb's own warnings are silenced here only.
#ifndef GCC_IO_STB_HPP
#define GCC_IO_STB_HPP
#include <stb_image.h>
#include <stb_image_write.h>
#endif  // GCC_IO_STB_HPP

#ifdef GCC_STB_IMPLEMENTATION
#define GCC_STB_IMAGE_IMPLEMENTATION
#define GCC_STB_IMAGE_WRITE_IMPLEMENTATION
#endif
#if (defined(GCC_STB_IMAGE_IMPLEMENTATION) && !defined(GCC_STB_IMAGE_DONE)) || \
    (defined(GCC_STB_IMAGE_WRITE_IMPLEMENTATION) && !defined(GCC_STB_IMAGE_WRITE_DONE))
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#endif
#if defined(GCC_STB_IMAGE_IMPLEMENTATION) && !defined(GCC_STB_IMAGE_DONE)
#define GCC_STB_IMAGE_DONE
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#include <stb_image.h>
#undef STBI_ONLY_BMP
#undef STBI_ONLY_PNG
#undef STB_IMAGE_IMPLEMENTATION
#endif
#if defined(GCC_STB_IMAGE_WRITE_IMPLEMENTATION) && !defined(GCC_STB_IMAGE_WRITE_DONE)
#define GCC_STB_IMAGE_WRITE_DONE
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif  // implementation
