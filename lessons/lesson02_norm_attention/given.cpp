// given.cpp — lesson 02, given: everything of the KV cache except append() (yours, step 5) — its
// allocation, crop, copies for inspection, byte counts and the model-level KVCache — and the
// Attention constructors, which draw the four projections or take them as given.
#include "kv_cache.h"

#include "attention.h"

#include <algorithm>
#include <utility>

namespace llm {

// Checked before the tensors are allocated, so the message names the cache's own dimensions.
static Shape checked_cache_shape(Index batch, Index n_kv_heads, Index capacity, Index head_dim) {
  if (batch <= 0 || n_kv_heads <= 0 || capacity <= 0 || head_dim <= 0)
    fail<InvalidArgument>("KV cache dimensions (batch ", batch, ", kv_heads ", n_kv_heads, ", capacity ",
                          capacity, ", head_dim ", head_dim, ") must all be > 0");
  return Shape{batch, n_kv_heads, capacity, head_dim};
}

LayerKVCache::LayerKVCache(Index batch, Index n_kv_heads, Index capacity, Index head_dim)
    // Uninitialised: a position is read only after append() wrote it (positions [0, length) are filled).
    : v_(checked_cache_shape(batch, n_kv_heads, capacity, head_dim), kUninitialized),
      k_(Shape{batch, n_kv_heads, head_dim, capacity}, kUninitialized) {}  // keys transposed: (D, capacity) per head

void LayerKVCache::crop(Index length) {
  if (length < 0 || length > length_)
    fail<InvalidArgument>("crop to ", length, " positions: the cache holds ", length_);
  length_ = length;
}

static Tensor filled_part(const Tensor& full, Index length) {
  const Index B = full.size(0), KV = full.size(1), D = full.size(3);
  Tensor out(Shape{B, KV, length, D});
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < KV; ++h)
      if (length > 0) std::copy_n(&full(b, h, 0, 0), length * D, &out(b, h, 0, 0));
  return out;
}

Tensor LayerKVCache::key_states() const {
  const Index B = batch(), KV = num_kv_heads(), D = head_dim();
  Tensor out(Shape{B, KV, length_, D});  // back to the logical (B, KV, length, D)
  for (Index b = 0; b < B; ++b)
    for (Index h = 0; h < KV; ++h)
      for (Index t = 0; t < length_; ++t)
        for (Index d = 0; d < D; ++d) out(b, h, t, d) = k_(b, h, d, t);
  return out;
}
Tensor LayerKVCache::value_states() const { return filled_part(v_, length_); }

std::size_t LayerKVCache::bytes_allocated() const {
  return 2 * static_cast<std::size_t>(k_.numel()) * sizeof(float);
}

std::size_t LayerKVCache::bytes_used() const {
  return 2 * static_cast<std::size_t>(batch() * num_kv_heads() * length_ * head_dim()) * sizeof(float);
}

KVCache::KVCache(const ModelConfig& config, Index batch, Index capacity) {
  config.validate();
  if (capacity > config.max_position_embeddings)
    fail<InvalidArgument>("KV cache capacity ", capacity, " exceeds max_position_embeddings = ",
                          config.max_position_embeddings);
  layers_.reserve(static_cast<size_t>(config.num_hidden_layers));
  for (int l = 0; l < config.num_hidden_layers; ++l)
    layers_.emplace_back(batch, config.num_key_value_heads, capacity, config.head_dim());
}

KVCache KVCache::clone() const {
  KVCache copy;
  copy.layers_ = layers_;
  return copy;
}

void KVCache::crop(Index length) {
  for (auto& l : layers_) l.crop(length);
}

std::size_t KVCache::bytes_allocated() const {
  std::size_t total = 0;
  for (const auto& l : layers_) total += l.bytes_allocated();
  return total;
}

std::size_t KVCache::bytes_used() const {
  std::size_t total = 0;
  for (const auto& l : layers_) total += l.bytes_used();
  return total;
}

void KVCache::check_compatible(const ModelConfig& config, Index batch_size) const {
  if (num_layers() != config.num_hidden_layers)
    fail<InvalidArgument>("past_key_values has ", num_layers(), " layers, the model has ",
                          config.num_hidden_layers, ": a cache from another model");
  const LayerKVCache& l0 = layers_.front();
  if (l0.num_kv_heads() != config.num_key_value_heads || l0.head_dim() != config.head_dim())
    fail<InvalidArgument>("past_key_values holds ", l0.num_kv_heads(), " KV heads of dim ", l0.head_dim(),
                          ", the model has ", config.num_key_value_heads, " of dim ", config.head_dim(),
                          ": a cache from another model");
  if (l0.batch() != batch_size)
    fail<InvalidArgument>("past_key_values was made for batch size ", l0.batch(), ", input_ids has ",
                          batch_size, " rows");
}

std::size_t kv_cache_bytes(const ModelConfig& config, Index positions, Index batch, std::size_t bytes_per_value) {
  if (positions < 0 || batch < 0)
    fail<InvalidArgument>("kv_cache_bytes: positions = ", positions, " and batch = ", batch, " must be >= 0");
  std::int64_t total = 2;
  for (std::int64_t factor : {std::int64_t{config.num_hidden_layers}, std::int64_t{config.num_key_value_heads},
                              std::int64_t{config.head_dim()}, positions, batch,
                              static_cast<std::int64_t>(bytes_per_value)})
    total = checked_mul(total, factor, "kv_cache_bytes: 2 x layers x kv_heads x head_dim x positions x batch x bytes");
  return static_cast<std::size_t>(total);
}

// The config is validated first: H % KV != 0 would make query head h read a KV head h / G that does
// not exist.
Attention::Attention(const ModelConfig& config, Rng& rng)
    : num_heads_((config.validate(), config.num_attention_heads)),
      num_kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim()) {
  const Index C = config.hidden_size, hd = num_heads_ * head_dim_, kvd = num_kv_heads_ * head_dim_;
  const float std = config.initializer_range;
  // Drawn in this order (q, k, v, o) so a seed gives the same weights in every build.
  q_proj = Linear::random(hd, C, rng, std);
  k_proj = Linear::random(kvd, C, rng, std);
  v_proj = Linear::random(kvd, C, rng, std);
  o_proj = Linear::random(C, hd, rng, std);
}

static void check_weight(const Linear& w, Index rows, Index cols, const char* name) {
  if (!w.weight || !(w.weight->shape() == Shape{rows, cols}))
    fail<ShapeError>("Attention ", name, " weight has shape ", w.weight ? w.weight->shape().str() : "(none)",
                     ", the config needs (", rows, ", ", cols, ")");
}

Attention::Attention(const ModelConfig& config, Linear q, Linear k, Linear v, Linear o)
    : q_proj(std::move(q)),
      k_proj(std::move(k)),
      v_proj(std::move(v)),
      o_proj(std::move(o)),
      num_heads_((config.validate(), config.num_attention_heads)),
      num_kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim()) {
  const Index C = config.hidden_size, hd = num_heads_ * head_dim_, kvd = num_kv_heads_ * head_dim_;
  check_weight(q_proj, hd, C, "q_proj");
  check_weight(k_proj, kvd, C, "k_proj");
  check_weight(v_proj, kvd, C, "v_proj");
  check_weight(o_proj, C, hd, "o_proj");
}

}  // namespace llm
