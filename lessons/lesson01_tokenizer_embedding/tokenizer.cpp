// tokenizer.cpp — YOUR lesson 01 work, exercise 1: BPE encoding and decoding (steps 1-3). Each TODO is
// a step of README.md; each throws until you write it. The file reader and the helpers you need
// (find, piece, score, utf8_length, parse_byte_piece, has_byte_fallback) are given in tokenizer_file.cpp.
// The reference is solutions/lesson01_tokenizer_embedding/tokenizer.cpp — try before you look.
#include "tokenizer.h"

#include "llm/errors.h"

namespace llm {

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool bos, bool eos) const {
  std::vector<std::int32_t> toks;  // the symbols, left to right: one id each

  // TODO(step 1): the starting symbols.
  //   - Non-empty text starts with the dummy-prefix symbol " " (empty text: no symbols at all).
  //   - Then walk the text one UTF-8 code point at a time: n = utf8_length(text, i) bytes from i.
  //   - A code point that is a piece (find) is that piece's id. Otherwise each of its bytes b becomes
  //     the byte token kFirstByteToken + b (or kUnk when !has_byte_fallback()).
  //   - n == 0 means the byte at i is not valid UTF-8: it becomes its byte token alone; move on by 1.
  //   The dummy prefix follows the same rule: when " " is not a piece it is the byte token <0x20>.
  (void)text;
  throw NotImplemented("lesson01 step 1: split the text into symbols (dummy prefix, UTF-8, byte fallback)");

  // TODO(step 2): BPE merges, then the control tokens.
  //   Repeat: among all adjacent pairs (toks[k], toks[k+1]) whose concatenated pieces form a piece,
  //   take the one whose piece has the highest score (the leftmost on a tie: compare with >), and
  //   replace the two symbols by that piece's id. Stop when no pair forms a piece.
  //   Then BOS (kBos) in front if bos and EOS (kEos) at the end if eos — after merging, so they are
  //   never merged into anything.
  //   The stand-in below throws only when step 2 has work to do, so step 1's tests (bos = false,
  //   vocabularies in which no pair forms a piece) already pass with step 1 alone. Replace it.
  for (size_t k = 0; k + 1 < toks.size(); ++k)
    if (find(piece(toks[k]) + piece(toks[k + 1])))
      throw NotImplemented("lesson01 step 2: merge the best-scoring pair until no pair is a piece");
  if (bos || eos) throw NotImplemented("lesson01 step 2: BOS in front and EOS at the end, after merging");
  return toks;
}

std::string Tokenizer::decode_piece(std::int32_t prev, std::int32_t token) const {
  // TODO(step 3): the text of piece(token), printed after prev.
  //   - When prev is kBos and the piece starts with ' ', drop that one space (it is the dummy prefix).
  //   - A byte piece "<0xHH>" (parse_byte_piece) is the single raw byte 0xHH, not the six characters.
  (void)prev, (void)token;
  throw NotImplemented("lesson01 step 3: decode a piece (leading space after BOS, <0xHH> bytes)");
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids) const {
  // TODO(step 3): concatenate decode_piece(previous id, id) over ids. BOS prints nothing (skip it);
  //   the first id's "previous" is itself.
  (void)ids;
  throw NotImplemented("lesson01 step 3: decode a sequence of ids");
}

}  // namespace llm
