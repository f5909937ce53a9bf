// tokenizer.h — lesson 01's contract, part 1: the llama2.c BPE tokenizer (tok512.bin). Encode by
// highest-score merges with byte fallback, decode with llama2.c's leading-space and <0xHH> rules.
// Given (tokenizer_file.cpp): loading, from_pieces, the lookups and the UTF-8/byte-piece helpers.
// Yours (tokenizer.cpp): encode, decode_piece, decode. No SentencePiece normalisation beyond the
// dummy-prefix space; no unigram model; no merges file (merge order comes from the scores).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
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
  // The id of a piece (the first one, should a piece repeat), or nullopt when no piece is these bytes.
  std::optional<std::int32_t> find(std::string_view piece) const;
  // The longest piece in bytes: no merge can produce a longer one, so longer pairs need no lookup.
  int max_piece_length() const { return max_piece_length_; }
  // Whether ids 3..258 are the byte pieces <0x00>..<0xFF>. Without them an unknown byte is <unk>.
  bool has_byte_fallback() const;

  // Text -> ids, as llama2.c's encode(): optional BOS, a dummy-prefix space for non-empty text, each
  // UTF-8 code point to its piece or to byte-fallback ids, then repeated highest-score pair merges
  // (ties: the leftmost pair). Invalid UTF-8 bytes fall back to byte tokens too.
  std::vector<std::int32_t> encode(std::string_view text, bool bos = true, bool eos = false) const;

  // The text of `token` printed after `prev`: after BOS a leading space is dropped; "<0xHH>" is the
  // raw byte. This is what a streaming generator prints token by token.
  std::string decode_piece(std::int32_t prev, std::int32_t token) const;
  // Concatenated decode_piece over the sequence (the first token's prev is itself, BOS skipped).
  std::string decode(const std::vector<std::int32_t>& ids) const;

  // Helpers for the exercise (given):
  // Length of the well-formed UTF-8 sequence starting at text[i] (1..4), or 0 when the bytes there
  // are not one (a stray continuation byte, a bad lead byte, a truncated sequence).
  static std::size_t utf8_length(std::string_view text, std::size_t i);
  // The byte a "<0xHH>" piece stands for (either hex case), or nullopt for any other piece.
  static std::optional<unsigned char> parse_byte_piece(std::string_view piece);

 private:
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, std::int32_t> lookup_;
  int max_piece_length_ = 0;
};

}  // namespace llm
