// tokenizer_file.cpp — lesson 01, given: reading llama2.c's tokenizer file (tok512.bin), building a
// tokenizer from pieces, and the lookups and helpers encode/decode need. Encoding and decoding
// themselves are the exercise (tokenizer.cpp).
#include "tokenizer.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <system_error>
#include <utility>

#include "llm/binary_file.h"
#include "llm/errors.h"
#include "llm/limits.h"

namespace llm {

static_assert(std::endian::native == std::endian::little,
              "the llama2.c tokenizer reader assumes a little-endian host");

namespace {

// A max_token_length past kMaxPieceBytes (llm/limits.h) means the file is not a tokenizer.
constexpr int kByteTokens = 256;

// "<0xHH>" with uppercase hex, exactly as llama2.c's exporter writes the byte-fallback pieces.
std::string byte_piece(int byte) {
  constexpr char kHex[] = "0123456789ABCDEF";
  return {'<', '0', 'x', kHex[(byte >> 4) & 0xF], kHex[byte & 0xF], '>'};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Printable form of a piece for error messages (a corrupt file's "piece" can be any bytes).
std::string printable(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s.substr(0, 32)) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(c));
      out += buf;
    }
  }
  if (s.size() > 32) out += "...";
  return out + "\"";
}

template <typename T>
bool read_value(std::ifstream& in, T& value) {
  in.read(reinterpret_cast<char*>(&value), sizeof value);
  return in.gcount() == static_cast<std::streamsize>(sizeof value);
}

}  // namespace

Tokenizer Tokenizer::load(const std::filesystem::path& path, int vocab_size) {
  check_range(vocab_size, kFirstByteToken + kByteTokens, kMaxVocabSize, "tokenizer vocab_size");
  const std::string where = "tokenizer " + path.string();

  detail::BinaryFile file = detail::open_binary(path, where);
  std::ifstream& in = file.in;
  const std::uint64_t file_bytes = file.size;

  std::int32_t max_len = 0;
  if (file_bytes < sizeof max_len || !read_value(in, max_len))
    fail<FormatError>(where, " is truncated: ", file_bytes, " bytes cannot hold the 4-byte max_token_length");
  if (max_len < 1 || max_len > kMaxPieceBytes)
    fail<FormatError>(where, ": max_token_length = ", max_len, " is out of range [1, ", kMaxPieceBytes, "]");

  // Every entry takes at least 8 bytes (score + length): refuse before reserving anything when even
  // that does not fit, so a wrong vocab_size or a tiny file cannot cause a large allocation.
  const std::uint64_t min_bytes = 4 + 8 * static_cast<std::uint64_t>(vocab_size);
  if (file_bytes < min_bytes)
    fail<FormatError>(where, " is truncated: ", vocab_size, " tokens need at least ", min_bytes,
                      " bytes, file has ", file_bytes);

  std::vector<std::string> pieces;
  std::vector<float> scores;
  pieces.reserve(static_cast<size_t>(vocab_size));
  scores.reserve(static_cast<size_t>(vocab_size));
  std::uint64_t pos = sizeof max_len;
  for (int i = 0; i < vocab_size; ++i) {
    float score = 0.0f;
    std::int32_t len = 0;
    if (file_bytes - pos < 8 || !read_value(in, score) || !read_value(in, len))
      fail<FormatError>(where, " is truncated at token ", i, " of ", vocab_size, ": ", file_bytes - pos,
                        " bytes left, its score and length need 8");
    pos += 8;
    if (!std::isfinite(score)) fail<FormatError>(where, ": token ", i, " has a non-finite score ", score);
    if (len < 0 || len > max_len)
      fail<FormatError>(where, ": token ", i, " has length ", len,
                        ", outside [0, max_token_length = ", max_len, "]");
    const auto ulen = static_cast<std::uint64_t>(len);
    if (file_bytes - pos < ulen)
      fail<FormatError>(where, " is truncated at token ", i, " of ", vocab_size, ": its piece needs ", len,
                        " bytes, ", file_bytes - pos, " left");
    std::string piece(static_cast<size_t>(len), '\0');
    in.read(piece.data(), len);
    if (in.gcount() != len) fail<IoError>("short read in ", where, " at token ", i);
    pos += ulen;
    pieces.push_back(std::move(piece));
    scores.push_back(score);
  }
  if (pos != file_bytes)
    fail<FormatError>(where, " has ", file_bytes - pos, " trailing bytes after its ", vocab_size, " tokens (",
                      pos, " bytes used, file has ", file_bytes, ")");

  // The byte-fallback pieces are what make encoding total; their absence is also the quickest sign
  // that the file is something else (a checkpoint, a SentencePiece .model) that happened to parse.
  for (int b = 0; b < kByteTokens; ++b) {
    const std::string want = byte_piece(b);
    const std::string& got = pieces[static_cast<size_t>(kFirstByteToken + b)];
    if (got != want) {
      const std::string got_text = printable(got), want_text = printable(want);
      fail<FormatError>(where, ": token ", kFirstByteToken + b, " is ", got_text,
                        ", expected the byte piece ", want_text,
                        " (is this really a llama2.c tokenizer file?)");
    }
  }
  return from_pieces(std::move(pieces), std::move(scores));
}

Tokenizer Tokenizer::from_pieces(std::vector<std::string> pieces, std::vector<float> scores) {
  if (pieces.size() != scores.size())
    fail<InvalidArgument>("tokenizer: ", pieces.size(), " pieces but ", scores.size(), " scores");
  // Ids 0..2 are fixed (<unk>, BOS, EOS) and encode() emits 1 and 2, so they must exist.
  if (pieces.size() < 3 || pieces.size() > static_cast<size_t>(kMaxVocabSize))
    fail<InvalidArgument>("tokenizer: vocabulary of ", pieces.size(), " pieces must be in [3, ", kMaxVocabSize,
                          "] (ids 0..2 are <unk>, BOS, EOS)");
  for (size_t i = 0; i < scores.size(); ++i)
    if (!std::isfinite(scores[i]))
      fail<InvalidArgument>("tokenizer: piece ", i, " has a non-finite score ", scores[i]);
  // Byte fallback is all or nothing: either ids 3..258 are exactly <0x00>..<0xFF>, or id 3 is not
  // <0x00> and unknown bytes encode as <unk>.
  const bool byte_fallback = pieces.size() >= static_cast<size_t>(kFirstByteToken + kByteTokens) &&
                             pieces[kFirstByteToken] == byte_piece(0);
  if (byte_fallback) {
    for (int b = 0; b < kByteTokens; ++b) {
      const std::string& got = pieces[static_cast<size_t>(kFirstByteToken + b)];
      if (got != byte_piece(b)) {
        const std::string got_text = printable(got), want_text = printable(byte_piece(b));
        fail<InvalidArgument>("tokenizer: piece ", kFirstByteToken + b, " is ", got_text, ", expected ",
                              want_text, " (ids 3..258 hold the byte-fallback pieces)");
      }
    }
  }

  Tokenizer t;
  t.lookup_.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    // emplace keeps the first id of a duplicated piece, so lookups are deterministic.
    t.lookup_.emplace(pieces[i], static_cast<std::int32_t>(i));
    t.max_piece_length_ = std::max(t.max_piece_length_, static_cast<int>(pieces[i].size()));
  }
  t.pieces_ = std::move(pieces);
  t.scores_ = std::move(scores);
  return t;
}

const std::string& Tokenizer::piece(std::int32_t id) const {
  check_index(id, static_cast<std::int32_t>(pieces_.size()), "token id");
  return pieces_[static_cast<size_t>(id)];
}

float Tokenizer::score(std::int32_t id) const {
  check_index(id, static_cast<std::int32_t>(scores_.size()), "token id");
  return scores_[static_cast<size_t>(id)];
}

// Either hex case is accepted when decoding (llama2.c parses with %X), even though loading insists
// on the uppercase spelling.
std::optional<unsigned char> Tokenizer::parse_byte_piece(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return std::nullopt;
  const int hi = hex_value(p[3]), lo = hex_value(p[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<unsigned char>(hi * 16 + lo);
}

// Overlong forms and surrogates are not rejected: no vocabulary holds them as pieces, so
// their lookup fails and they fall back to one token per byte — the same result as rejecting them.
std::size_t Tokenizer::utf8_length(std::string_view text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  size_t n = 0;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4;
  else
    return 0;
  if (i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

std::optional<std::int32_t> Tokenizer::find(std::string_view piece) const {
  const auto it = lookup_.find(std::string(piece));
  if (it == lookup_.end()) return std::nullopt;
  return it->second;
}

bool Tokenizer::has_byte_fallback() const {
  return vocab_size() >= kFirstByteToken + kByteTokens && pieces_[kFirstByteToken] == "<0x00>";
}

}  // namespace llm
