// tokenizer.cpp — lesson 01 reference, steps 1-3: BPE encoding by scores with byte fallback, and
// decoding. The file reader and the helpers used here are given (lessons/.../tokenizer_file.cpp).
#include "tokenizer.h"

#include <cstddef>
#include <string>

namespace llm {

// Steps 1 and 2.
std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool bos, bool eos) const {
  const bool byte_fallback = has_byte_fallback();
  std::vector<std::int32_t> toks;
  toks.reserve(text.size() + 1);
  auto push_bytes = [&](std::string_view bytes) {
    for (unsigned char b : bytes) toks.push_back(byte_fallback ? kFirstByteToken + b : kUnk);
  };
  std::string key;
  auto push_symbol = [&](std::string_view symbol) {
    key.assign(symbol);
    const auto it = lookup_.find(key);
    if (it != lookup_.end()) {
      toks.push_back(it->second);
    } else {
      push_bytes(symbol);
    }
  };

  // SentencePiece's "dummy prefix": the model was trained on text that starts with a space, so
  // "Once" at the start is encoded like " Once" in the middle of a sentence.
  if (!text.empty()) push_symbol(" ");
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_length(text, i);
    if (n == 0) {
      push_bytes(text.substr(i, 1));  // a malformed byte stands alone, as its byte token
      ++i;
    } else {
      push_symbol(text.substr(i, n));
      i += n;
    }
  }

  // BPE merges: repeatedly merge the adjacent pair whose concatenation is the best-scoring piece.
  // merged[k] caches the piece id of toks[k] + toks[k+1] (or -1), so after a merge only the two
  // neighbouring pairs are looked up again; each round is then a scan over cached scores.
  auto pair_id = [&](size_t k) -> std::int32_t {
    const std::string& a = pieces_[static_cast<size_t>(toks[k])];
    const std::string& b = pieces_[static_cast<size_t>(toks[k + 1])];
    if (static_cast<int>(a.size() + b.size()) > max_piece_length_) return -1;  // no piece that long
    key.assign(a);
    key.append(b);
    const auto it = lookup_.find(key);
    return it == lookup_.end() ? -1 : it->second;
  };
  std::vector<std::int32_t> merged(toks.empty() ? 0 : toks.size() - 1);
  for (size_t k = 0; k < merged.size(); ++k) merged[k] = pair_id(k);
  for (;;) {
    std::int32_t best = -1;
    size_t best_k = 0;
    for (size_t k = 0; k < merged.size(); ++k) {
      // Strictly greater: on a tie the leftmost pair wins.
      if (merged[k] >= 0 &&
          (best < 0 || scores_[static_cast<size_t>(merged[k])] > scores_[static_cast<size_t>(best)])) {
        best = merged[k];
        best_k = k;
      }
    }
    if (best < 0) break;
    toks[best_k] = best;
    toks.erase(toks.begin() + static_cast<std::ptrdiff_t>(best_k) + 1);
    merged.erase(merged.begin() + static_cast<std::ptrdiff_t>(best_k));
    if (best_k > 0) merged[best_k - 1] = pair_id(best_k - 1);
    if (best_k < merged.size()) merged[best_k] = pair_id(best_k);
  }

  // BOS/EOS are added around the merged text rather than before merging: they are control tokens
  // and must never be merged into a piece.
  if (bos) toks.insert(toks.begin(), kBos);
  if (eos) toks.push_back(kEos);
  return toks;
}

// Step 3.
std::string Tokenizer::decode_piece(std::int32_t prev, std::int32_t token) const {
  std::string_view p = piece(token);
  // The dummy-prefix space of the first word is an encoding artefact, not part of the text.
  if (prev == kBos && !p.empty() && p.front() == ' ') p.remove_prefix(1);
  if (const auto byte = parse_byte_piece(p)) return std::string(1, static_cast<char>(*byte));
  return std::string(p);
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids) const {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == kBos) continue;  // BOS prints nothing; it only affects the next token's space
    const std::int32_t prev = i == 0 ? ids[i] : ids[i - 1];
    out += decode_piece(prev, ids[i]);
  }
  return out;
}

}  // namespace llm
