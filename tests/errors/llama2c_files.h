// llama2c_files.h — small, valid llama2.c checkpoint and tokenizer files made in memory, for the
// bad-input suite (tests/errors/) and the fuzzing seed corpus (fuzz/make_corpus.cpp). Header-only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "llm/checkpoint.h"

namespace llm::files {

inline void put_i32(std::string& bytes, std::int32_t v) {
  char raw[4];
  std::memcpy(raw, &v, 4);
  bytes.append(raw, 4);
}
inline void put_f32(std::string& bytes, float v) {
  char raw[4];
  std::memcpy(raw, &v, 4);
  bytes.append(raw, 4);
}
inline void patch_i32(std::string& bytes, std::size_t offset, std::int32_t v) {
  std::memcpy(&bytes[offset], &v, 4);
}

// The header of the smallest model the loader accepts: dim 4, hidden 8, 1 layer, 2 heads of dim 2,
// 1 KV head, vocab 3 (<unk>, BOS, EOS), 4 positions.
inline CheckpointHeader tiny_header() {
  CheckpointHeader h;
  h.dim = 4;
  h.hidden_dim = 8;
  h.n_layers = 1;
  h.n_heads = 2;
  h.n_kv_heads = 1;
  h.vocab_size = 3;
  h.seq_len = 4;
  return h;
}

// Byte offsets of the 7 header fields.
enum HeaderField : std::size_t {
  kDim = 0,
  kHiddenDim = 4,
  kLayers = 8,
  kHeads = 12,
  kKvHeads = 16,
  kVocab = 20,
  kSeqLen = 24
};

// A complete checkpoint for `h`: the header, then exactly as many finite floats as the header implies
// (llm::expected_checkpoint_bytes), small distinct values so nothing overflows.
inline std::string checkpoint_bytes(const CheckpointHeader& h) {
  std::string bytes;
  for (std::int32_t v : {h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len})
    put_i32(bytes, v);
  const std::uint64_t floats = (expected_checkpoint_bytes(h) - bytes.size()) / 4;
  for (std::uint64_t k = 0; k < floats; ++k) put_f32(bytes, 0.001f * static_cast<float>(k % 97) - 0.05f);
  return bytes;
}

// <unk>, <s>, </s>, the 256 byte pieces "<0x00>".."<0xFF>", then `extra`: a valid llama2.c vocabulary.
inline std::vector<std::string> tokenizer_pieces(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> pieces = {"<unk>", "\n<s>\n", "\n</s>\n"};
  for (int b = 0; b < 256; ++b) {
    static const char* hex = "0123456789ABCDEF";
    pieces.push_back(std::string("<0x") + hex[b / 16] + hex[b % 16] + ">");
  }
  pieces.insert(pieces.end(), extra.begin(), extra.end());
  return pieces;
}

// A few merges so that encoding has something to do: whole words win over their parts.
inline std::vector<std::string> sample_merges() {
  return {" ",
          "a",
          "b",
          "c",
          "t",
          "h",
          "e",
          "o",
          "n",
          "ab",
          "abc",
          " a",
          " t",
          "th",
          "the",
          " the",
          "on",
          "one",
          "\xC3\xA9",
          "\xE6\x97\xA5",
          "\xF0\x9F\x99\x82"};
}

// The file llama2.c's exporter writes: int32 max_token_length, then per token float score,
// int32 length, the bytes. Scores: later pieces score higher, like BPE merge order.
inline std::string tokenizer_bytes(const std::vector<std::string>& pieces) {
  std::int32_t max_len = 1;
  for (const auto& p : pieces) max_len = std::max<std::int32_t>(max_len, static_cast<std::int32_t>(p.size()));
  std::string bytes;
  put_i32(bytes, max_len);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    put_f32(bytes, i < 259 ? 0.0f : -1000.0f + static_cast<float>(i));
    put_i32(bytes, static_cast<std::int32_t>(pieces[i].size()));
    bytes += pieces[i];
  }
  return bytes;
}

}  // namespace llm::files
