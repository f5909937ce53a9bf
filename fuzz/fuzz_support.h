// fuzz_support.h — what the libFuzzer targets share: a scratch file for loaders that take a path, and
// the rule for exceptions (the documented llm::Error subtypes are fine; anything else is a finding).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>

#include "llm/errors.h"

namespace llm::fuzz {

// One file per fuzzing process (libFuzzer -jobs/-workers run several), rewritten for every input and
// removed at exit. /dev/shm keeps the loader's reads off the disk.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& stem) {
    std::filesystem::path dir = "/dev/shm";
    std::error_code ec;
    if (const char* tmp = std::getenv("LLM_FUZZ_TMPDIR"); tmp != nullptr && *tmp != '\0') {
      dir = tmp;
    } else if (!std::filesystem::is_directory(dir, ec) || ::access(dir.c_str(), W_OK) != 0) {
      dir = std::filesystem::temp_directory_path();
    }
    path_ = dir / (stem + "_" + std::to_string(::getpid()) + ".bin");
  }
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::filesystem::path& write(const unsigned char* data, std::size_t size) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) {
      std::fprintf(stderr, "fuzz setup: cannot write %s\n", path_.c_str());
      std::abort();
    }
    return path_;
  }

 private:
  std::filesystem::path path_;
};

// A finding that is not a sanitizer report: print it and abort, so libFuzzer saves the input.
[[noreturn]] inline void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "\n==FINDING== %s: %s\n", what, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// Runs `body`; returns normally when it succeeds or throws one of the `Allowed` llm::Error subtypes.
// Any other exception — std::bad_alloc (a size check that came too late), std::out_of_range from
// .at(), a different llm::Error subtype than documented — is a finding.
template <typename... Allowed, typename Body>
void expect_only(const char* what, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    if (((dynamic_cast<const Allowed*>(&e) != nullptr) || ...)) return;
    finding(what, std::string("unexpected exception ") + typeid(e).name() + ": " + e.what());
  } catch (...) {
    finding(what, "an exception that is not a std::exception");
  }
}

}  // namespace llm::fuzz
