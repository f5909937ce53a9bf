// tokenizer.cpp — lesson 01 reference, steps 1-3: BPE encoding by scores with byte fallback, and
// decoding. The file reader and the helpers used here are given (lessons/.../tokenizer_file.cpp).
#include "tokenizer.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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

  // BPE merges: repeatedly merge the adjacent pair whose concatenation is the best-scoring piece
  // (the leftmost on a tie). Rescanning every pair after each merge costs O(n^2) — 11 s for a prompt of
  // 120 KB. Instead the symbols form a linked list, and a heap holds every pair that forms a piece,
  // best score first, then leftmost; a merge changes only the pairs next to it, so it pushes those two
  // and leaves stale entries to be skipped when they surface (each symbol's `version` says whether an
  // entry still describes it). O(n log n), the same merges in the same order.
  const size_t n = toks.size();
  std::vector<size_t> next(n), prev(n);   // neighbours in the list; n = none
  std::vector<std::uint32_t> version(n);  // bumped whenever a symbol changes or dies
  for (size_t k = 0; k < n; ++k) next[k] = k + 1, prev[k] = k == 0 ? n : k - 1;
  struct Candidate {
    float score;
    size_t left, right;                  // list positions; left < right, so "leftmost" is the smaller left
    std::uint32_t left_version, right_version;
    std::int32_t id;                     // the merged piece
  };
  const auto worse = [](const Candidate& a, const Candidate& b) {  // heap order: best on top
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  };
  std::vector<Candidate> heap;
  auto consider = [&](size_t left) {  // push the pair (left, next[left]) if it forms a piece
    if (left >= n || next[left] >= n) return;
    const size_t right = next[left];
    const std::string& a = pieces_[static_cast<size_t>(toks[left])];
    const std::string& b = pieces_[static_cast<size_t>(toks[right])];
    if (static_cast<int>(a.size() + b.size()) > max_piece_length_) return;  // no piece that long
    key.assign(a);
    key.append(b);
    const auto it = lookup_.find(key);
    if (it == lookup_.end()) return;
    heap.push_back({scores_[static_cast<size_t>(it->second)], left, right, version[left], version[right], it->second});
    std::push_heap(heap.begin(), heap.end(), worse);
  };
  for (size_t k = 0; k + 1 < n; ++k) consider(k);
  std::vector<bool> alive(n, true);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), worse);
    const Candidate c = heap.back();
    heap.pop_back();
    if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right || version[c.left] != c.left_version ||
        version[c.right] != c.right_version)
      continue;  // stale: one of the two symbols was merged into something else since
    toks[c.left] = c.id;  // the left symbol becomes the merged piece, the right one leaves the list
    ++version[c.left];
    ++version[c.right];
    alive[c.right] = false;
    next[c.left] = next[c.right];
    if (next[c.left] < n) prev[next[c.left]] = c.left;
    if (prev[c.left] < n) consider(prev[c.left]);  // the two pairs that now include the new piece
    consider(c.left);
  }
  std::vector<std::int32_t> merged;
  merged.reserve(n + 2);
  for (size_t k = n == 0 ? n : 0; k < n; k = next[k]) merged.push_back(toks[k]);
  toks = std::move(merged);

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
