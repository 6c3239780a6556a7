// gcc::Error's location suffix: "[gcc/<dir>/<file>:<line>]" for the toolkit's headers (never the
// absolute path of the checkout or install), the bare file name for other files.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "gcc/core/error.hpp"
#include "gcc/core/tensor.hpp"

namespace {
std::string message_of_five_dimensions() {
  try {
    gcc::Shape s{1, 2, 3, 4, 5};  // GCC_CHECK in gcc/core/tensor.hpp: at most 4 dimensions
  } catch (const gcc::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("error: a header's check names the file from gcc/, without the folders above include/") {
  const std::string m = message_of_five_dimensions();
  INFO("message: " << m);
  CHECK(m.find("at most 4 dimensions") != std::string::npos);
  CHECK(m.find("[gcc/core/tensor.hpp:") != std::string::npos);
  CHECK(m.find("/include/") == std::string::npos);
  CHECK(m.back() == ']');
}

TEST_CASE("error: GCC_FAIL outside include/ keeps the base name only") {
  std::string m;
  try {
    GCC_FAIL("test_error: failing on purpose, value ", 42);
  } catch (const gcc::Error& e) {
    m = e.what();
  }
  CHECK(m.rfind("test_error: failing on purpose, value 42 [test_error.cpp:", 0) == 0);
}

TEST_CASE("error: short_file keeps the path from the last include/gcc/, else the base name") {
  using gcc::detail::short_file;
  CHECK(std::strcmp(short_file("/work/main/include/gcc/io/safetensors.hpp"), "gcc/io/safetensors.hpp") == 0);
  CHECK(std::strcmp(short_file("/usr/local/include/gcc/core/tensor.hpp"), "gcc/core/tensor.hpp") == 0);
  CHECK(std::strcmp(short_file("include/gcc/core/error.hpp"), "gcc/core/error.hpp") == 0);
  CHECK(std::strcmp(short_file("/a/include/x/include/gcc/ops/conv.hpp"), "gcc/ops/conv.hpp") == 0);
  CHECK(std::strcmp(short_file("/home/u/myinclude/gcc/x.hpp"), "x.hpp") == 0);  // not an include/ folder
  CHECK(std::strcmp(short_file("/work/main/kernels/knn.cuh"), "knn.cuh") == 0);
  CHECK(std::strcmp(short_file("/work/main/tests/test_error.cpp"), "test_error.cpp") == 0);
  CHECK(std::strcmp(short_file("main.cpp"), "main.cpp") == 0);
  static_assert(short_file("/x/include/gcc/a.hpp")[0] == 'g', "short_file is usable at compile time");
}
