// binary_file.h — for the loaders (common/src, lesson 01's tokenizer file reader): open a model file for binary reading, with the IoErrors both
// loaders need (a directory, a file that cannot be opened, one whose size cannot be read).
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "llm/errors.h"

namespace llm::detail {

struct BinaryFile {
  std::ifstream in;
  std::uint64_t size = 0;  // bytes, for checking a header against the file before allocating
};

// `where` names the file in messages, e.g. "checkpoint /path/stories260K.bin".
inline BinaryFile open_binary(const std::filesystem::path& path, const std::string& where) {
  // ifstream happily "opens" a directory on Linux and then fails every read; say what is wrong instead.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail<IoError>(where, " is a directory, not a file");
  BinaryFile file{std::ifstream(path, std::ios::binary), 0};
  if (!file.in) fail<IoError>("cannot open ", where, ": ", std::strerror(errno));
  file.size = std::filesystem::file_size(path, ec);
  if (ec) fail<IoError>("cannot get the size of ", where, ": ", ec.message());
  return file;
}

}  // namespace llm::detail
