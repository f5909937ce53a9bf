// block_table.h — lesson 06's contract, part 2: one sequence's block table, the map from its logical
// positions to the physical blocks of a BlockPool. Position p lives in the table's block p / BS, at
// offset p % BS; the blocks themselves can be anywhere in the pool, in any order. The table grows one
// block at a time as the sequence grows, so a sequence never holds more than BS - 1 unused positions,
// and it can share blocks with other tables (fork(), prefix caching) thanks to the pool's ref counts.
// Not here: the token ids (the caller keeps them), sliding windows, tables that skip blocks.
//
// Dimension legend (docs/dimensions.md): N positions in the table (its length), BS block_size.
#pragma once

#include <span>
#include <vector>

#include "block_pool.h"

namespace llm {

// Where one position's key and value live: block `block` of the pool, row `offset` in it.
struct Slot {
  BlockId block = -1;
  Index offset = 0;  // 0 .. BS-1
};

class BlockTable {
 public:
  // Given. An empty table (length 0, no block) drawing from `pool`, which must outlive the table.
  explicit BlockTable(BlockPool& pool) : pool_(&pool) {}
  // Given. Releases whatever the table still holds, so an exception never leaks blocks.
  ~BlockTable();
  // A table owns references: copying one would count them twice. Sharing is explicit (fork());
  // moving hands the blocks over and leaves the source empty.
  BlockTable(const BlockTable&) = delete;
  BlockTable& operator=(const BlockTable&) = delete;
  BlockTable(BlockTable&& other) noexcept;
  BlockTable& operator=(BlockTable&& other) noexcept;

  BlockPool& pool() const { return *pool_; }
  Index block_size() const { return pool_->block_size(); }
  Index length() const { return length_; }  // N: positions that have a slot
  Index num_blocks() const { return static_cast<Index>(blocks_.size()); }
  const std::vector<BlockId>& blocks() const { return blocks_; }  // (ceil(N / BS)) physical ids

  // ---------------------------------------------------------------------------------------------
  // Step 2: growing, reading and freeing the table
  // ---------------------------------------------------------------------------------------------

  // The blocks append(n) would take from the pool: the new blocks for positions N .. N+n-1, plus one
  // when the last block is partly filled and shared (step 5 copies it first). InvalidArgument for n < 0.
  Index blocks_needed(Index n) const;
  // Gives the next n positions a slot: length N -> N + n, one new block from the pool each time the
  // length passes a multiple of BS. All or nothing: OutOfBlocks naming the blocks needed and free when
  // the pool has too few, and then the table and the pool are unchanged. A partly filled last block that
  // is shared is first copied (copy_on_write_tail, step 5). InvalidArgument for n < 0.
  void append(Index n);
  // The slot of logical position p: (blocks()[p / BS], p % BS). InvalidArgument naming p and the length
  // unless 0 <= p < N.
  Slot slot(Index position) const;
  // Releases every block (the last one first, so that the blocks least likely to be shared are the first
  // a prefix cache evicts) and empties the table: length 0, no block. An empty table: nothing to do.
  void release();

  // ---------------------------------------------------------------------------------------------
  // Step 5: fork with copy-on-write
  // ---------------------------------------------------------------------------------------------

  // A second table of the same length over the same blocks, each block's ref count + 1: parallel
  // sampling (n > 1) forks one prompt into n sequences that share every block until they write.
  BlockTable fork() const;
  // When the last block is partly filled (N % BS != 0) and shared (ref count > 1): replace it in this
  // table by a private copy — allocate a block, copy its K and V (BlockPool::copy_block), release this
  // table's reference to the shared one. Otherwise nothing. OutOfBlocks (nothing changed) when the pool
  // is empty. Full blocks are never written again, so they never need a copy.
  void copy_on_write_tail();

  // ---------------------------------------------------------------------------------------------
  // Given
  // ---------------------------------------------------------------------------------------------

  // For prefix caching (step 4): appends `id`, a full block that already holds this table's next BS
  // positions, and takes over one reference the caller acquired (BlockPool::reuse). InvalidArgument
  // unless the table ends on a block boundary (N % BS == 0).
  void append_cached_block(BlockId id);
  // Forgets positions from `length` on and releases the blocks no longer needed (for rewinding: a
  // benchmark that times one decode step at a fixed length, a failed forward pass). A last block left
  // partly filled and owned by this table alone loses its prefix-cache name, since it will be written
  // again. InvalidArgument unless 0 <= length <= N.
  void crop(Index length);

 private:
  BlockPool* pool_;
  std::vector<BlockId> blocks_;  // (ceil(N / BS)): logical block i -> physical block
  Index length_ = 0;             // N
};

}  // namespace llm
