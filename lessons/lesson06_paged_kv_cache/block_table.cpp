// block_table.cpp — YOUR lesson 06 work, steps 2 and 5: growing, reading and freeing a block table,
// then fork with copy-on-write. The destructor, moves, crop() and append_cached_block() are given in
// given.cpp. The reference is solutions/lesson06_paged_kv_cache/block_table.cpp — try before you look.
//
// Legend: N positions in the table (length_), BS block_size. Members (block_table.h): pool_ the pool,
// blocks_ the physical ids of the logical blocks 0, 1, ..., length_ = N.
#include "block_table.h"

#include "llm/errors.h"

namespace llm {

Index BlockTable::blocks_needed(Index n) const {
  // TODO(step 2): InvalidArgument naming n when n < 0. The table needs ceil((N + n) / BS) blocks for
  //   N + n positions; it has num_blocks(). Return the difference, plus 1 when n > 0 and the last block
  //   is partly filled (N % BS != 0) and shared (pool_->ref_count(last) > 1): it must be copied first.
  (void)n;
  throw NotImplemented("lesson06 step 2: blocks_needed (ceil of the new length over block_size)");
}

void BlockTable::append(Index n) {
  // TODO(step 2): all or nothing. needed = blocks_needed(n); when the pool cannot give that many
  //   (pool_->can_allocate), throw OutOfBlocks naming n, the blocks needed and the blocks free — before
  //   changing anything. Then, for n > 0: if the last block is partly filled (length_ % BS != 0) and
  //   shared (ref count > 1), call copy_on_write_tail() first (step 5 writes it; until then no block is
  //   ever shared that way); add n to length_, and pool_->allocate() new blocks until
  //   num_blocks() * BS >= length_.
  (void)n;
  throw NotImplemented("lesson06 step 2: append positions (a new block every block_size)");
}

Slot BlockTable::slot(Index position) const {
  // TODO(step 2): InvalidArgument naming the position and the length unless 0 <= position < length_.
  //   Then the position lives in logical block position / BS, at offset position % BS.
  (void)position;
  throw NotImplemented("lesson06 step 2: slot (logical position -> block and offset)");
}

void BlockTable::release() {
  // TODO(step 2): release every block to the pool, the LAST one first (pop from the back), then
  //   length_ = 0. A released table is empty and can be released again (nothing to do).
  throw NotImplemented("lesson06 step 2: release every block of the table");
}

BlockTable BlockTable::fork() const {
  // TODO(step 5): a new BlockTable child(*pool_) with the same blocks_ and length_; every block gets
  //   one more owner (pool_->retain). Return the child.
  throw NotImplemented("lesson06 step 5: fork (share every block, ref count + 1)");
}

void BlockTable::copy_on_write_tail() {
  // TODO(step 5): nothing to do when N % BS == 0 (no partial block) or when the last block's ref count
  //   is 1 (ours alone). Otherwise: allocate a block (OutOfBlocks here changes nothing), copy the shared
  //   one into it (pool_->copy_block), release our reference to the shared one, and put the new id at
  //   the end of blocks_. The other owners keep the original, unchanged.
  throw NotImplemented("lesson06 step 5: copy-on-write of a shared partial block");
}

}  // namespace llm
