// Errors for the whole toolkit: gcc::Error carries what went wrong, where (file:line) and what to do.
// Library code throws, never exits; GCC_CHECK builds the message only when the check fails.
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
  os << " [" << file << ":" << line << "]";
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
