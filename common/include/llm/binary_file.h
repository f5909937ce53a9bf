// binary_file.h — for the loaders (common/src, lesson 01's tokenizer file reader): open a model file for
// binary reading, with the IoErrors both loaders need (a directory, a FIFO or device, a file that cannot
// be opened, one whose size cannot be read).
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
  // Opening a FIFO for reading blocks until a writer appears (forever, for a typo), and a device or a
  // socket has no size to check a header against: only regular files are model files.
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    fail<IoError>(where, " is not a regular file (a FIFO, device or socket cannot be read as a model file)");
  BinaryFile file{std::ifstream(path, std::ios::binary), 0};
  if (!file.in) fail<IoError>("cannot open ", where, ": ", std::strerror(errno));
  file.size = std::filesystem::file_size(path, ec);
  if (ec) fail<IoError>("cannot get the size of ", where, ": ", ec.message());
  return file;
}

}  // namespace llm::detail
