// test_vocab.h — tokenizer helpers shared by lesson 01's suites and tests/common/tokenizer_test.cpp:
// tiny vocabularies laid out like tok512 (special and byte pieces first), byte-token ids, printable
// ids and bytes for failure messages, and tok512 itself (or a skip). No test cases live here.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "test_support.h"
#include "tokenizer.h"

namespace lesson01_test {

// The byte-fallback piece of byte b: "<0xHH>".
inline std::string byte_piece(int b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", static_cast<unsigned>(b));
  return buf;
}

// <unk>, BOS, EOS and the 256 byte pieces (ids 0..258, as in tok512), then the `extra` (piece, score)
// pairs from id 259 on.
inline llm::Tokenizer tiny_vocab(const std::vector<std::pair<std::string, float>>& extra) {
  std::vector<std::string> pieces = {"<unk>", "\n<s>\n", "\n</s>\n"};
  std::vector<float> scores = {0.0f, 0.0f, 0.0f};
  for (int b = 0; b < 256; ++b) {
    pieces.push_back(byte_piece(b));
    scores.push_back(0.0f);
  }
  for (const auto& [p, s] : extra) {
    pieces.push_back(p);
    scores.push_back(s);
  }
  return llm::Tokenizer::from_pieces(std::move(pieces), std::move(scores));
}

// The byte-fallback id of byte b.
inline std::int32_t byte_id(unsigned char b) { return llm::Tokenizer::kFirstByteToken + b; }

// "[1, 2, 3]", for failure messages about id sequences.
inline std::string describe(const std::vector<std::int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

// Printable bytes, for failure messages about text that may hold newlines or invalid UTF-8.
inline std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(c));
      out += buf;
    }
  }
  return out;
}

// tok512 from the stories260K folder, or nullopt after model_or_skip() printed its skip line.
inline std::optional<llm::Tokenizer> tok512_or_skip() {
  auto files = llm::testing::model_or_skip();
  if (!files) return std::nullopt;
  return llm::Tokenizer::load(files->tokenizer, 512);
}

}  // namespace lesson01_test
