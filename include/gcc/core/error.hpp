// Errors for the whole toolkit: gcc::Error carries what went wrong, where (file:line) and what to do.
// Library code throws, never exits; GCC_CHECK builds the message only when the check fails.
// The location is "[gcc/<dir>/<file>:<line>]" for the toolkit's headers wherever they are installed
// (the path from the last "include/gcc/" on), and the bare file name for any other file.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace gcc {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
// `file` (a __FILE__) shortened for messages: from "gcc/" when it follows the last "include/", else
// from the last path separator. Points into `file`: no allocation, usable in constant expressions.
constexpr const char* short_file(const char* file) {
  const char* base = file;    // after the last separator
  const char* rooted = nullptr;  // at "gcc/" after the last "include/"
  const char* key = "include/gcc/";
  for (const char* p = file; *p != '\0'; ++p) {
    if (*p == '/' || *p == '\\') base = p + 1;
    int i = 0;
    while (key[i] != '\0' && p[i] == key[i]) ++i;
    if (key[i] == '\0' && (p == file || p[-1] == '/' || p[-1] == '\\')) rooted = p + 8;  // skip "include/"
  }
  return rooted != nullptr ? rooted : base;
}

// "gcc/data/../core/tensor.hpp" -> "gcc/core/tensor.hpp" (a header first reached through a relative
// include keeps the ".." in __FILE__).
inline std::string without_dot_dot(const char* path) {
  std::string out;
  for (const char* p = path; *p != '\0';) {
    const char* e = p;
    while (*e != '\0' && *e != '/') ++e;
    const std::string part(p, e);
    const std::size_t cut = out.size() > 1 ? out.find_last_of('/', out.size() - 2) : std::string::npos;
    if (part == ".." && !out.empty() && out.compare(cut == std::string::npos ? 0 : cut + 1, 3, "../") != 0)
      out.erase(cut == std::string::npos ? 0 : cut + 1);
    else
      out += part + (*e == '/' ? "/" : "");
    p = *e == '/' ? e + 1 : e;
  }
  return out;
}

inline void append_all(std::ostringstream&) {}
template <typename T, typename... Rest>
void append_all(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append_all(os, rest...);
}
template <typename... Args>
[[noreturn]] void throw_error(const char* file, int line, const Args&... args) {
  std::ostringstream os;
  append_all(os, args...);
  os << " [" << without_dot_dot(short_file(file)) << ":" << line << "]";
  throw Error(os.str());
}
}  // namespace detail

}  // namespace gcc

// GCC_CHECK(cond, "op: message ", value, ...) throws gcc::Error when cond is false.
#define GCC_CHECK(cond, ...)                                          \
  do {                                                                \
    if (!(cond)) ::gcc::detail::throw_error(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

#define GCC_FAIL(...) ::gcc::detail::throw_error(__FILE__, __LINE__, __VA_ARGS__)
