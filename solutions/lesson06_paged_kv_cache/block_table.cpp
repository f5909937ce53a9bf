// block_table.cpp — lesson 06 reference, steps 2 and 5: growing, reading and freeing a block table, and
// fork with copy-on-write.
//
// Legend: N positions in the table, BS block_size.
#include "block_table.h"

#include "llm/errors.h"

namespace llm {

// Step 2.
Index BlockTable::blocks_needed(Index n) const {
  if (n < 0) fail<InvalidArgument>("append: n = ", n, " positions must be >= 0");
  const Index BS = block_size();
  const Index blocks_after = (length_ + n + BS - 1) / BS;  // ceil((N + n) / BS)
  Index needed = blocks_after - num_blocks();
  // Writing into a shared, partly filled last block needs a private copy of it first.
  if (n > 0 && length_ % BS != 0 && pool_->ref_count(blocks_.back()) > 1) ++needed;
  return needed;
}

void BlockTable::append(Index n) {
  const Index needed = blocks_needed(n);
  // All or nothing: check before taking anything, so a full pool leaves table and pool as they were.
  if (!pool_->can_allocate(needed))
    fail<OutOfBlocks>("appending ", n, " positions to a table of ", length_, " needs ", needed,
                      " blocks, the pool has ", pool_->num_free(), " free of ", pool_->num_blocks());
  if (n == 0) return;
  const Index BS = block_size();
  // Step 5: the next position lands in the last block; if it is partly filled and shared, copy it first.
  if (length_ % BS != 0 && pool_->ref_count(blocks_.back()) > 1) copy_on_write_tail();
  length_ += n;
  while (num_blocks() * BS < length_) blocks_.push_back(pool_->allocate());  // one block per BS positions
}

Slot BlockTable::slot(Index position) const {
  if (position < 0 || position >= length_)
    fail<InvalidArgument>("position ", position, " is out of range [0, ", length_, ") of the block table");
  const Index BS = block_size();
  return Slot{blocks_[static_cast<size_t>(position / BS)], position % BS};
}

void BlockTable::release() {
  // The last block first: when a whole sequence is freed at once, its tail (the least likely to be
  // another prompt's prefix) reaches the free list first and is the first to be evicted.
  while (!blocks_.empty()) {
    pool_->release(blocks_.back());
    blocks_.pop_back();
  }
  length_ = 0;
}

// Step 5.
BlockTable BlockTable::fork() const {
  BlockTable child(*pool_);
  for (BlockId id : blocks_) pool_->retain(id);  // every block now has one more owner
  child.blocks_ = blocks_;
  child.length_ = length_;
  return child;
}

void BlockTable::copy_on_write_tail() {
  if (length_ % block_size() == 0) return;  // no partial block: the next write starts a new one
  const BlockId shared = blocks_.back();
  if (pool_->ref_count(shared) == 1) return;  // ours alone: write in place
  const BlockId mine = pool_->allocate();     // OutOfBlocks here changes nothing
  pool_->copy_block(shared, mine);            // the positions written so far, every layer
  pool_->release(shared);                     // the other owners keep it, unchanged
  blocks_.back() = mine;
}

}  // namespace llm
