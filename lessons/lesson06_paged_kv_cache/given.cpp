// given.cpp — lesson 06 code you are given, not asked to write: the pool's storage (allocation, block
// access, copies, byte counts), the block table's housekeeping (destructor, moves, crop, adopting a
// cached block), the prefix cache's validity check and sweep, and the input checks of steps 6 and 7.
// Read it; call it from your steps. It is compiled into both the student and the reference build.
//
// Legend: L layers, KV key/value heads, D head_dim, BS block_size, NB num_blocks, N table length.
#include <algorithm>
#include <utility>

#include "block_pool.h"
#include "block_table.h"
#include "llm/errors.h"
#include "paged_model.h"
#include "prefix_cache.h"

namespace llm {

// ---------------------------------------------------------------------------------------------
// BlockPool: the storage
// ---------------------------------------------------------------------------------------------

// Checked before anything is allocated, so a bad size is a message, never a huge allocation.
static Index checked_pool_size(const ModelConfig& config, Index num_blocks, Index block_size) {
  config.validate();
  if (block_size < 1 || block_size > kMaxBlockSize)
    fail<InvalidArgument>("block_size = ", block_size, " must be in [1, ", kMaxBlockSize, "]");
  if (num_blocks < 1 || num_blocks > kMaxNumBlocks)
    fail<InvalidArgument>("num_blocks = ", num_blocks, " must be in [1, ", kMaxNumBlocks, "]");
  // 2 (K and V) x L x KV x D x BS x NB floats; every factor is bounded, the product is checked.
  std::size_t bytes = 2 * sizeof(float);
  for (Index factor : {Index{config.num_hidden_layers}, Index{config.num_key_value_heads}, Index{config.head_dim()},
                       block_size, num_blocks})
    if (__builtin_mul_overflow(bytes, static_cast<std::size_t>(factor), &bytes)) bytes = kMaxPoolBytes + 1;
  if (bytes > kMaxPoolBytes)
    fail<InvalidArgument>("a pool of ", num_blocks, " blocks x block_size ", block_size, " needs ", bytes,
                          " bytes of K and V, more than the limit of ", kMaxPoolBytes, " bytes");
  return num_blocks;
}

BlockPool::BlockPool(const ModelConfig& config, Index num_blocks, Index block_size)
    : block_size_(block_size), num_kv_heads_(config.num_key_value_heads), head_dim_(config.head_dim()) {
  const Index NB = checked_pool_size(config, num_blocks, block_size);
  const Index KV = num_kv_heads_, D = head_dim_, BS = block_size_;
  for (int l = 0; l < config.num_hidden_layers; ++l) {
    k_.emplace_back(Shape{NB, KV, D, BS});  // keys transposed: (D, BS) per block and head
    v_.emplace_back(Shape{NB, KV, BS, D});
  }
  ref_.assign(static_cast<size_t>(NB), 0);
  hash_.assign(static_cast<size_t>(NB), 0);
  has_hash_.assign(static_cast<size_t>(NB), false);
  for (BlockId id = 0; id < NB; ++id) free_.push_back(id);  // every block free, in id order
}

void BlockPool::check_id(BlockId id, const char* what) const {
  if (id < 0 || id >= num_blocks())
    fail<InvalidArgument>(what, ": block ", id, " is out of range [0, ", num_blocks(), ") of the pool");
}

int BlockPool::ref_count(BlockId id) const {
  check_id(id, "ref_count");
  return ref_[static_cast<size_t>(id)];
}

std::optional<BlockHash> BlockPool::block_hash(BlockId id) const {
  check_id(id, "block_hash");
  if (!has_hash_[static_cast<size_t>(id)]) return std::nullopt;
  return hash_[static_cast<size_t>(id)];
}

void BlockPool::set_block_hash(BlockId id, BlockHash hash) {
  check_id(id, "set_block_hash");
  if (ref_[static_cast<size_t>(id)] == 0)
    fail<InvalidArgument>("set_block_hash: block ", id, " is free (ref count 0): only a block in use can be registered");
  hash_[static_cast<size_t>(id)] = hash;
  has_hash_[static_cast<size_t>(id)] = true;
}

void BlockPool::clear_block_hash(BlockId id) {
  check_id(id, "clear_block_hash");
  has_hash_[static_cast<size_t>(id)] = false;
}

Index BlockPool::offset(Index layer, BlockId id, Index kv_head) const {
  if (layer < 0 || layer >= num_layers())
    fail<InvalidArgument>("layer ", layer, " is out of range [0, ", num_layers(), ")");
  check_id(id, "K/V access");
  if (kv_head < 0 || kv_head >= num_kv_heads_)
    fail<InvalidArgument>("KV head ", kv_head, " is out of range [0, ", num_kv_heads_, ")");
  if (ref_[static_cast<size_t>(id)] == 0)
    fail<InvalidArgument>("block ", id, " is free (ref count 0): reading or writing it is a use after free");
  return (id * num_kv_heads_ + kv_head) * head_dim_ * block_size_;
}

float* BlockPool::keys(Index layer, BlockId id, Index kv_head) {
  const Index at = offset(layer, id, kv_head);
  return k_[static_cast<size_t>(layer)].data() + at;
}
const float* BlockPool::keys(Index layer, BlockId id, Index kv_head) const {
  const Index at = offset(layer, id, kv_head);
  return k_[static_cast<size_t>(layer)].data() + at;
}
float* BlockPool::values(Index layer, BlockId id, Index kv_head) {
  const Index at = offset(layer, id, kv_head);
  return v_[static_cast<size_t>(layer)].data() + at;
}
const float* BlockPool::values(Index layer, BlockId id, Index kv_head) const {
  const Index at = offset(layer, id, kv_head);
  return v_[static_cast<size_t>(layer)].data() + at;
}

void BlockPool::copy_block(BlockId from, BlockId to) {
  const Index per_block = num_kv_heads_ * head_dim_ * block_size_;  // floats of K (or V) per block and layer
  for (Index l = 0; l < num_layers(); ++l) {
    (void)offset(l, from, 0), (void)offset(l, to, 0);  // both in range and in use
    std::copy_n(k_[static_cast<size_t>(l)].data() + from * per_block, per_block,
                k_[static_cast<size_t>(l)].data() + to * per_block);
    std::copy_n(v_[static_cast<size_t>(l)].data() + from * per_block, per_block,
                v_[static_cast<size_t>(l)].data() + to * per_block);
  }
}

std::size_t BlockPool::block_bytes() const {
  return 2 * static_cast<std::size_t>(num_layers() * num_kv_heads_ * head_dim_ * block_size_) * sizeof(float);
}
std::size_t BlockPool::bytes() const { return block_bytes() * static_cast<std::size_t>(num_blocks()); }

// ---------------------------------------------------------------------------------------------
// BlockTable: housekeeping
// ---------------------------------------------------------------------------------------------

BlockTable::~BlockTable() {
  if (blocks_.empty()) return;
  try {
    release();
  } catch (...) {
    // A destructor must not throw. release() fails only on a corrupted pool (a double free
    // elsewhere), which the code that caused it has already reported.
  }
}

BlockTable::BlockTable(BlockTable&& other) noexcept
    : pool_(other.pool_), blocks_(std::move(other.blocks_)), length_(std::exchange(other.length_, 0)) {
  other.blocks_.clear();
}

BlockTable& BlockTable::operator=(BlockTable&& other) noexcept {
  if (this != &other) {
    if (!blocks_.empty()) {
      try {
        release();
      } catch (...) {
      }
    }
    pool_ = other.pool_;
    blocks_ = std::move(other.blocks_);
    other.blocks_.clear();
    length_ = std::exchange(other.length_, 0);
  }
  return *this;
}

void BlockTable::append_cached_block(BlockId id) {
  const Index BS = block_size();
  if (length_ % BS != 0)
    fail<InvalidArgument>("append_cached_block: the table's length ", length_, " is not a multiple of block_size ",
                          BS, ": a cached block can only follow full blocks");
  if (pool_->ref_count(id) < 1)
    fail<InvalidArgument>("append_cached_block: block ", id, " is free: reuse() it before appending it");
  blocks_.push_back(id);
  length_ += BS;
}

void BlockTable::crop(Index length) {
  if (length < 0 || length > length_)
    fail<InvalidArgument>("crop to ", length, " positions: the table holds ", length_);
  const Index BS = block_size();
  const auto keep = static_cast<size_t>((length + BS - 1) / BS);
  while (blocks_.size() > keep) {
    pool_->release(blocks_.back());
    blocks_.pop_back();
  }
  length_ = length;
  // A full block cut back to a partial one will be written again: if this table owns it alone, the
  // prefix it was registered for (prefix caching) must no longer be found. (Shared, it is copied
  // before the next write, and the original keeps its contents and its name.)
  if (length_ % BS != 0 && pool_->ref_count(blocks_.back()) == 1) pool_->clear_block_hash(blocks_.back());
}

// ---------------------------------------------------------------------------------------------
// PrefixCache: validity and the sweep
// ---------------------------------------------------------------------------------------------

bool PrefixCache::valid(const Entry& entry, BlockHash hash, BlockHash parent,
                        std::span<const std::int32_t> tokens) const {
  if (entry.parent != parent || !std::equal(entry.tokens.begin(), entry.tokens.end(), tokens.begin(), tokens.end()))
    return false;  // another prefix with the same 64-bit hash: a collision is a miss
  const std::optional<BlockHash> now = pool_->block_hash(entry.block);
  return now && *now == hash;  // the block was not handed out again since it was registered
}

void PrefixCache::sweep() {
  if (num_entries() <= 2 * pool_->num_blocks()) return;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const std::optional<BlockHash> now = pool_->block_hash(it->second.block);
    it = (now && *now == it->first) ? std::next(it) : entries_.erase(it);
  }
}

// ---------------------------------------------------------------------------------------------
// Input checks of steps 6 and 7
// ---------------------------------------------------------------------------------------------

static void check_pool_fits(const ModelConfig& config, const BlockPool& pool) {
  config.validate();
  if (pool.num_layers() != config.num_hidden_layers || pool.num_kv_heads() != config.num_key_value_heads ||
      pool.head_dim() != config.head_dim())
    fail<InvalidArgument>("the block pool was made for ", pool.num_layers(), " layers x ", pool.num_kv_heads(),
                          " KV heads x head_dim ", pool.head_dim(), ", the model has ", config.num_hidden_layers,
                          " layers x ", config.num_key_value_heads, " KV heads x head_dim ", config.head_dim(),
                          ": a pool made for another model");
}

static void check_tokens(const ModelConfig& config, std::span<const std::int32_t> tokens, const char* what) {
  if (tokens.empty()) fail<InvalidArgument>(what, " is empty: there is no token to run");
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= config.vocab_size)
      fail<InvalidArgument>("token id ", tokens[i], " at ", what, " index ", i, " is out of range [0, ",
                            config.vocab_size, ") of the vocabulary");
}

void check_paged_forward(const ModelConfig& config, const BlockTable& table, std::span<const std::int32_t> tokens) {
  check_pool_fits(config, table.pool());
  check_tokens(config, tokens, "tokens");
  const Index P = table.length(), T = static_cast<Index>(tokens.size());
  if (P + T > config.max_position_embeddings)
    fail<InvalidArgument>("sequence length ", P + T, " (", P, " in the table + ", T,
                          " new) exceeds max_position_embeddings = ", config.max_position_embeddings);
}

void check_paged_generate(const ModelConfig& config, const BlockPool& pool, std::span<const std::int32_t> prompt,
                          const PagedGenerateOptions& o) {
  check_pool_fits(config, pool);
  check_tokens(config, prompt, "prompt");
  if (o.max_new_tokens < 0) fail<InvalidArgument>("max_new_tokens = ", o.max_new_tokens, " must be >= 0");
  if (o.prefill_chunk < 0)
    fail<InvalidArgument>("prefill_chunk = ", o.prefill_chunk, " must be >= 0 (0: the whole prompt at once)");
  if (o.eos_token_id) check_index(*o.eos_token_id, config.vocab_size, "eos_token_id");
  if (o.prefix_cache && &o.prefix_cache->pool() != &pool)
    fail<InvalidArgument>("the prefix cache belongs to another block pool than the one generating");
  const Index total = static_cast<Index>(prompt.size()) + o.max_new_tokens;
  if (total > config.max_position_embeddings)
    fail<InvalidArgument>("prompt of ", prompt.size(), " tokens + max_new_tokens ", o.max_new_tokens, " = ", total,
                          " exceeds max_position_embeddings = ", config.max_position_embeddings);
}

}  // namespace llm
