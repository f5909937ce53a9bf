// tokenizer.cpp — YOUR lesson 01 work, exercise 1: BPE encoding and decoding. Each TODO is a step of
// README.md; each throws until you write it. The reference is solutions/lesson01_tokenizer_embedding/.
#include "tokenizer.h"

#include "llm/errors.h"

namespace llm {

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool bos, bool eos) const {
  // TODO(step 1): the starting symbols: a dummy-prefix " " for non-empty text, then each UTF-8 code
  //   point (utf8_length) as its piece id (find), or as byte tokens (kFirstByteToken + byte) when no
  //   piece matches or the bytes are not valid UTF-8 (kUnk without byte fallback).
  // TODO(step 2): merge: repeatedly replace the adjacent pair whose concatenation is a piece with the
  //   highest score (leftmost on a tie) by that piece, until no pair is a piece. Then BOS/EOS.
  (void)text, (void)bos, (void)eos;
  throw NotImplemented("lesson01 step 1: split the text into symbols (dummy prefix, UTF-8, byte fallback)");
}

std::string Tokenizer::decode_piece(std::int32_t prev, std::int32_t token) const {
  // TODO(step 3): the piece's text; after BOS drop one leading space; "<0xHH>" is the raw byte.
  (void)prev, (void)token;
  throw NotImplemented("lesson01 step 3: decode a piece (leading space after BOS, <0xHH> bytes)");
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids) const {
  // TODO(step 3): concatenate decode_piece(previous id, id), skipping BOS.
  (void)ids;
  throw NotImplemented("lesson01 step 3: decode a sequence of ids");
}

}  // namespace llm
