// prefix_cache.cpp — YOUR lesson 06 work, step 4: hash-chained names of full blocks, the lookup of a
// cached prefix, attaching it to a new table, and publishing the blocks a sequence has filled. valid()
// and sweep() are given in given.cpp; BlockPool::reuse() (block_pool.cpp) is part of this step too.
// The reference is solutions/lesson06_paged_kv_cache/prefix_cache.cpp — try before you look.
//
// Legend: BS block_size, N tokens. Members (prefix_cache.h): pool_, entries_ (hash -> Entry{block,
// parent, tokens}).
#include "prefix_cache.h"

#include "llm/errors.h"

namespace llm {

BlockHash hash_block(BlockHash parent, std::span<const std::int32_t> tokens) {
  // TODO(step 4): a 64-bit mix of parent and every token, in order. One way: start from a mix of
  //   parent, then for each token h = mix(h ^ token) with a good 64-bit mixer (splitmix64's finaliser:
  //   x ^= x >> 30; x *= 0xbf58476d1ce4e5b9; x ^= x >> 27; x *= 0x94d049bb133111eb; x ^= x >> 31).
  //   A plain sum or XOR of the tokens is not enough: it ignores their order.
  (void)parent, (void)tokens;
  throw NotImplemented("lesson06 step 4: hash_block (chain the parent hash and the block's tokens)");
}

Index PrefixCache::match(std::span<const std::int32_t> tokens) const {
  // TODO(step 4): parent = kRootBlockHash; for block i = 0, 1, ... while (i + 1) * BS <= N - 1 (never the
  //   last token): hash = hash_block(parent, tokens i*BS .. (i+1)*BS - 1); stop at the first block whose
  //   hash is not in entries_ or whose entry is not valid(entry, hash, parent, block tokens); else
  //   parent = hash. Return (blocks matched) * BS; 0 for empty tokens.
  (void)tokens;
  throw NotImplemented("lesson06 step 4: match (how many leading tokens are cached)");
}

Index PrefixCache::attach(BlockTable& table, std::span<const std::int32_t> tokens) {
  // TODO(step 4): InvalidArgument when the table uses another pool or is not empty (name its length).
  //   Walk the matched blocks again (match() tells how many): for each, pool_->reuse(entry.block) and
  //   table.append_cached_block(entry.block). Return table.length().
  (void)table, (void)tokens;
  throw NotImplemented("lesson06 step 4: attach (share the cached prefix's blocks)");
}

void PrefixCache::publish(const BlockTable& table, std::span<const std::int32_t> tokens) {
  // TODO(step 4): InvalidArgument when the table uses another pool or tokens has fewer than
  //   table.length() ids. For each FULL block i (i < table.length() / BS) of the table, in order, with
  //   parent = kRootBlockHash before block 0:
  //     already registered (pool_->block_hash(id) has a value): parent = that hash, next block;
  //     else hash = hash_block(parent, its tokens); pool_->set_block_hash(id, hash);
  //          entries_[hash] = Entry{id, parent, its tokens}; parent = hash.
  //   Finish with sweep() (given).
  (void)table, (void)tokens;
  throw NotImplemented("lesson06 step 4: publish (register the full blocks)");
}

}  // namespace llm
