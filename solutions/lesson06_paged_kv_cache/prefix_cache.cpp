// prefix_cache.cpp — lesson 06 reference, step 4: hash-chained names of full blocks, the lookup of a
// cached prefix, attaching it to a new table, and publishing the blocks a sequence has filled.
//
// Legend: BS block_size, N tokens of a sequence.
#include "prefix_cache.h"

#include "llm/errors.h"

namespace llm {

// splitmix64's finaliser: every input bit changes about half of the output bits.
static std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Step 4a. One mixing round per token, so the order of the tokens matters, starting from the parent,
// so the same tokens after another prefix get another name.
BlockHash hash_block(BlockHash parent, std::span<const std::int32_t> tokens) {
  std::uint64_t h = mix64(parent ^ 0x9e3779b97f4a7c15ULL);
  for (std::int32_t token : tokens) h = mix64(h ^ static_cast<std::uint32_t>(token));
  return mix64(h + tokens.size());
}

// Step 4b.
Index PrefixCache::match(std::span<const std::int32_t> tokens) const {
  const Index BS = pool_->block_size(), N = static_cast<Index>(tokens.size());
  if (N == 0) return 0;
  const Index candidates = (N - 1) / BS;  // full blocks that leave at least the last token to compute
  BlockHash parent = kRootBlockHash;
  Index i = 0;
  for (; i < candidates; ++i) {
    const std::span<const std::int32_t> block = tokens.subspan(static_cast<size_t>(i * BS), static_cast<size_t>(BS));
    const BlockHash hash = hash_block(parent, block);  // the name of tokens 0 .. (i+1)*BS - 1
    const auto it = entries_.find(hash);
    if (it == entries_.end() || !valid(it->second, hash, parent, block)) break;  // the first miss ends the prefix
    parent = hash;
  }
  return i * BS;
}

// Step 4c.
Index PrefixCache::attach(BlockTable& table, std::span<const std::int32_t> tokens) {
  if (&table.pool() != pool_) fail<InvalidArgument>("attach: the table draws from another block pool than the cache");
  if (table.length() != 0)
    fail<InvalidArgument>("attach: the table already holds ", table.length(), " positions; it must be empty");
  const Index BS = pool_->block_size(), cached = match(tokens);
  BlockHash parent = kRootBlockHash;
  for (Index i = 0; i < cached / BS; ++i) {
    const BlockHash hash = hash_block(parent, tokens.subspan(static_cast<size_t>(i * BS), static_cast<size_t>(BS)));
    const BlockId id = entries_.at(hash).block;  // match() just found it valid
    pool_->reuse(id);                            // ref + 1, or back from the free list
    table.append_cached_block(id);
    parent = hash;
  }
  return table.length();
}

// Step 4d.
void PrefixCache::publish(const BlockTable& table, std::span<const std::int32_t> tokens) {
  if (&table.pool() != pool_) fail<InvalidArgument>("publish: the table draws from another block pool than the cache");
  if (static_cast<Index>(tokens.size()) < table.length())
    fail<InvalidArgument>("publish: ", tokens.size(), " tokens for a table of ", table.length(), " positions");
  const Index BS = pool_->block_size(), full = table.length() / BS;
  BlockHash parent = kRootBlockHash;
  for (Index i = 0; i < full; ++i) {
    const BlockId id = table.blocks()[static_cast<size_t>(i)];
    if (const std::optional<BlockHash> known = pool_->block_hash(id)) {  // registered earlier (maybe shared)
      parent = *known;
      continue;
    }
    const std::span<const std::int32_t> block = tokens.subspan(static_cast<size_t>(i * BS), static_cast<size_t>(BS));
    const BlockHash hash = hash_block(parent, block);
    pool_->set_block_hash(id, hash);
    entries_[hash] = Entry{id, parent, std::vector<std::int32_t>(block.begin(), block.end())};
    parent = hash;
  }
  sweep();
}

}  // namespace llm
