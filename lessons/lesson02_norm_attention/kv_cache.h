// kv_cache.h — the key/value cache: per layer, K and V of every past position, stored once per
// KV head (before any repetition for grouped-query attention), keys already rotated by RoPE.
// Keys and values of a position never change once computed (causality), so a decode step computes
// only its own and reads the rest from here. Capacity is allocated up front, so appending a token
// writes in place and never copies the past.
//
// Logically both are (B, KV, capacity, D), what key_states() / value_states() return. In memory K is
// kept transposed, (D, capacity) per head, which keys() exposes to attention (why: docs/benchmarks.md).
// Not here: paging, eviction, sliding windows, quantised storage.
#pragma once

#include <cstddef>
#include <vector>

#include "llm/config.h"
#include "llm/tensor.h"

namespace llm {

// One layer's cache. Positions [0, length) are filled; [length, capacity) are free.
class LayerKVCache {
 public:
  LayerKVCache(Index batch, Index n_kv_heads, Index capacity, Index head_dim);

  Index batch() const { return v_.size(0); }
  Index num_kv_heads() const { return v_.size(1); }
  Index capacity() const { return v_.size(2); }
  Index head_dim() const { return v_.size(3); }
  Index length() const { return length_; }

  // Write T new positions after the cached ones and advance length by T.
  // k_new, v_new: (B, T, KV*D), straight from the K/V projections (K after RoPE).
  // InvalidArgument when length + T would exceed capacity; ShapeError on a wrong shape.
  void append(const Tensor& k_new, const Tensor& v_new);

  // Forget every position from `length` on (keeps the allocation). For rewinding: speculative
  // decoding, re-running a step, or a benchmark timing one decode step at a fixed cache length.
  void crop(Index length);

  // One (batch row, KV head) block, read in place by attention (no copy):
  //   keys():   (D, capacity), row stride capacity() — the transposed layout; columns [0, length) filled
  //   values(): (capacity, D), row stride D;            rows [0, length) filled
  const float* keys(Index b, Index kv_head) const { return &k_(b, kv_head, 0, 0); }
  const float* values(Index b, Index kv_head) const { return &v_(b, kv_head, 0, 0); }

  // Copies (B, KV, length, D), for tests and inspection — the hot path never calls these.
  Tensor key_states() const;
  Tensor value_states() const;

  std::size_t bytes_allocated() const;  // K and V at full capacity
  std::size_t bytes_used() const;       // K and V for the filled positions

 private:
  Tensor v_;  // (B, KV, capacity, D)
  Tensor k_;  // (B, KV, D, capacity): transposed, see the top of this file
  Index length_ = 0;
};

// The whole model's cache: one LayerKVCache per decoder layer, all at the same length.
// Copying a cache is expensive, so it is explicit (clone()), never implicit.
class KVCache {
 public:
  KVCache(const ModelConfig& config, Index batch, Index capacity);
  KVCache(const KVCache&) = delete;
  KVCache& operator=(const KVCache&) = delete;
  KVCache(KVCache&&) = default;
  KVCache& operator=(KVCache&&) = default;
  KVCache clone() const;

  Index num_layers() const { return static_cast<Index>(layers_.size()); }
  Index batch() const { return layers_.front().batch(); }
  Index capacity() const { return layers_.front().capacity(); }
  // Positions cached so far (every layer holds the same number once a forward pass completes).
  Index seq_length() const { return layers_.front().length(); }

  void crop(Index length);  // every layer: keep positions [0, length)

  LayerKVCache& layer(Index l) { return layers_.at(static_cast<size_t>(l)); }
  const LayerKVCache& layer(Index l) const { return layers_.at(static_cast<size_t>(l)); }

  std::size_t bytes_allocated() const;
  std::size_t bytes_used() const;

  // InvalidArgument unless this cache was made for a model of this shape and this batch size:
  // same layer count, KV heads and head_dim.
  void check_compatible(const ModelConfig& config, Index batch) const;

 private:
  KVCache() = default;
  std::vector<LayerKVCache> layers_;
};

// KV-cache bytes for a context of `positions` tokens:
//   2 (K and V) x layers x kv_heads x head_dim x positions x batch x bytes_per_value.
// With grouped-query attention kv_heads = heads / groups, so the cache shrinks by the group count.
std::size_t kv_cache_bytes(const ModelConfig& config, Index positions, Index batch = 1,
                           std::size_t bytes_per_value = sizeof(float));

}  // namespace llm
