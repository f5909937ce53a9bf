// prefix_cache.h — lesson 06's contract, part 4: prefix caching. A FULL block is named by a hash of
// (the previous block's hash, its own token ids), so the name of block i stands for the whole prefix of
// tokens 0 .. (i+1)*BS - 1. Blocks are registered under that name once they are full; a new sequence
// whose prompt starts with registered blocks shares them (ref count + 1) and computes only the rest.
// A released block stays findable until the pool hands it out again, least recently freed first (the
// pool's free list is the LRU list). Not here: partial blocks (never shared by prefix), hashing
// anything else than token ids (LoRA ids, images), a cache that spans several pools.
//
// Dimension legend (docs/dimensions.md): BS block_size, N tokens of a sequence.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "block_pool.h"
#include "block_table.h"

namespace llm {

// The parent hash of a sequence's first block (it has no previous block).
inline constexpr BlockHash kRootBlockHash = 0;

// Step 4a. The name of a full block: a 64-bit mix of `parent` and every token id, in order. Deterministic
// (same inputs, same hash, on every platform), and changed by a different parent, by any token, or by
// the same tokens in another order. Any good mixing function does: the exact values are yours.
BlockHash hash_block(BlockHash parent, std::span<const std::int32_t> tokens);

class PrefixCache {
 public:
  // Given. An empty cache over `pool`, which must outlive it.
  explicit PrefixCache(BlockPool& pool) : pool_(&pool) {}

  // Step 4b. How many leading tokens of `tokens` are cached: walk the full blocks of tokens from the
  // first, chaining hashes, while each one is registered and still valid (see valid()); a multiple of
  // BS, and never all of tokens — at most tokens.size() - 1 — because the last token has to be run
  // through the model to get the logits of the next one. Changes nothing. 0 for empty tokens.
  Index match(std::span<const std::int32_t> tokens) const;

  // Step 4c. Starts the EMPTY `table` with the cached prefix of `tokens`: each matched block is reused
  // (BlockPool::reuse) and appended to the table (BlockTable::append_cached_block). Returns the number
  // of cached tokens, which is then table.length(). InvalidArgument naming the length when the table is
  // not empty, or uses another pool.
  Index attach(BlockTable& table, std::span<const std::int32_t> tokens);

  // Step 4d. Registers every full block of `table` that is not registered yet: block i (holding tokens
  // i*BS .. (i+1)*BS - 1) under hash_block(hash of block i-1, those tokens), recorded in the pool
  // (BlockPool::set_block_hash) and here. `tokens` are the table's tokens, at least table.length() of
  // them (InvalidArgument otherwise). Call it after the K/V of those positions are stored.
  void publish(const BlockTable& table, std::span<const std::int32_t> tokens);

  // Given.
  BlockPool& pool() const { return *pool_; }
  Index num_entries() const { return static_cast<Index>(entries_.size()); }

 private:
  struct Entry {
    BlockId block = -1;
    BlockHash parent = kRootBlockHash;
    std::vector<std::int32_t> tokens;  // (BS): compared on lookup, so a hash collision is a miss, never
                                       // someone else's keys and values
  };
  // Given. Whether `entry`, found under `hash`, still describes its block: registered under this parent
  // with these tokens, and the pool still holds the block under this hash (not reused since).
  bool valid(const Entry& entry, BlockHash hash, BlockHash parent, std::span<const std::int32_t> tokens) const;
  // Given. Drops the entries that are no longer valid, once there are twice as many entries as blocks,
  // so the map stays bounded however long the cache lives. publish() calls it.
  void sweep();

  BlockPool* pool_;
  std::unordered_map<BlockHash, Entry> entries_;  // hash of a full block -> where it is
};

}  // namespace llm
