// Progress output of the trainers: a one-line bar redrawn with a carriage return (only on a terminal, at
// most every 0.2 s), and whole lines (epoch summaries) that clear the bar first.
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <string>

namespace gcc {
namespace train {

class ProgressLine {
 public:
  // out: where to write (null = silent). Bars are drawn only when out is a terminal.
  explicit ProgressLine(FILE* out = stderr) { set_output(out); }
  void set_output(FILE* out) {
    out_ = out;
    tty_ = out != nullptr && ::isatty(::fileno(out)) == 1;
  }
  FILE* output() const { return out_; }

  // Redraws the bar (printf-style text); rate-limited unless force.
  void bar(bool force, const char* fmt, ...) __attribute__((format(printf, 3, 4))) {
    if (!tty_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && drawn_ && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    std::fprintf(out_, "\r%s\033[K", buf);
    std::fflush(out_);
    drawn_ = true;
  }
  // A whole line (the bar, if drawn, is cleared first).
  void line(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (!out_) return;
    clear();
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(out_, fmt, ap);
    va_end(ap);
    std::fputc('\n', out_);
    std::fflush(out_);
  }
  void clear() {
    if (tty_ && drawn_) std::fprintf(out_, "\r\033[K");
    drawn_ = false;
  }

 private:
  FILE* out_ = nullptr;
  bool tty_ = false, drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace train
}  // namespace gcc
