// Tiny command-line parser for the example programs: --name value pairs, --help, and an error that
// names the unknown flag. Kept out of the library: it is example plumbing.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gcc_examples {

class Cli {
 public:
  Cli(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}
  Cli& opt(const std::string& name, const std::string& def, const std::string& help) {
    order_.push_back(name);
    values_[name] = def;
    help_[name] = help;
    return *this;
  }
  // Returns false when the program should exit (help printed or bad flag; exit_code tells which).
  bool parse(int argc, char** argv, int& exit_code) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        usage(stdout);
        exit_code = 0;
        return false;
      }
      if (a.rfind("--", 0) != 0 || !values_.count(a.substr(2))) {
        std::fprintf(stderr, "%s: unknown argument '%s'\n\n", program_.c_str(), a.c_str());
        usage(stderr);
        exit_code = 2;
        return false;
      }
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: %s needs a value\n", program_.c_str(), a.c_str());
        exit_code = 2;
        return false;
      }
      values_[a.substr(2)] = argv[++i];
    }
    return true;
  }
  std::string str(const std::string& n) const { return values_.at(n); }
  long integer(const std::string& n) const { return std::strtol(values_.at(n).c_str(), nullptr, 10); }
  double real(const std::string& n) const { return std::strtod(values_.at(n).c_str(), nullptr); }
  void usage(FILE* f) const {
    std::fprintf(f, "usage: %s [options]\n%s\n\noptions:\n", program_.c_str(), summary_.c_str());
    for (auto& n : order_)
      std::fprintf(f, "  --%-16s %s (default: %s)\n", n.c_str(), help_.at(n).c_str(), values_.at(n).c_str());
    std::fprintf(f, "  --%-16s show this help\n", "help");
  }

 private:
  std::string program_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> values_, help_;
};

}  // namespace gcc_examples
