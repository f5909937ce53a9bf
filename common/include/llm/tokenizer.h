// tokenizer.h — the llama2.c BPE tokenizer (tok512.bin): encode by highest-score merges with byte
// fallback, decode with llama2.c's leading-space and <0xHH> rules. No SentencePiece normalisation
// beyond the dummy-prefix space; no unigram model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llm {

class Tokenizer {
 public:
  static constexpr std::int32_t kUnk = 0;
  static constexpr std::int32_t kBos = 1;
  static constexpr std::int32_t kEos = 2;
  static constexpr std::int32_t kFirstByteToken = 3;  // byte b is token b + 3 (<0x00>..<0xFF>)

  // Loads a llama2.c tokenizer file holding exactly vocab_size entries. FormatError when the file is
  // truncated, has trailing bytes, a negative or over-long piece length, a non-finite score, or does
  // not have the 256 byte-fallback pieces where expected; IoError when it cannot be read.
  static Tokenizer load(const std::filesystem::path& path, int vocab_size);
  // Builds one from pieces and scores directly (tests make tiny vocabularies this way). Pieces 3..258
  // must be the byte-fallback pieces "<0x00>".."<0xFF>" when byte fallback is wanted.
  static Tokenizer from_pieces(std::vector<std::string> pieces, std::vector<float> scores);

  int vocab_size() const { return static_cast<int>(pieces_.size()); }
  const std::string& piece(std::int32_t id) const;  // InvalidArgument outside [0, vocab)
  float score(std::int32_t id) const;

  // Text -> ids, as llama2.c's encode(): optional BOS, a dummy-prefix space for non-empty text, each
  // UTF-8 code point to its piece or to byte-fallback ids, then repeated highest-score pair merges
  // (ties: the leftmost pair). Invalid UTF-8 bytes fall back to byte tokens too.
  std::vector<std::int32_t> encode(std::string_view text, bool bos = true, bool eos = false) const;

  // The text of `token` printed after `prev`: after BOS a leading space is dropped; "<0xHH>" is the
  // raw byte. This is what a streaming generator prints token by token.
  std::string decode_piece(std::int32_t prev, std::int32_t token) const;
  // Concatenated decode_piece over the sequence (the first token's prev is itself, BOS skipped).
  std::string decode(const std::vector<std::int32_t>& ids) const;

 private:
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, std::int32_t> lookup_;
  int max_piece_length_ = 0;
};

}  // namespace llm
