// block_pool.cpp — lesson 06 reference, steps 1 and 4: the allocator of the block pool (allocate,
// retain, release over a free list and reference counts) and reuse() for prefix caching.
//
// Legend: NB num_blocks.
#include "block_pool.h"

#include <algorithm>

#include "llm/errors.h"

namespace llm {

// Step 1.
BlockId BlockPool::allocate() {
  if (free_.empty())
    fail<OutOfBlocks>("the block pool is exhausted: all ", num_blocks(), " blocks are in use");
  // The front of the free list was freed longest ago: if it still holds a cached prefix, that prefix
  // is the least recently used one, and it is the one evicted now.
  const BlockId id = free_.front();
  free_.pop_front();
  ref_[static_cast<size_t>(id)] = 1;
  has_hash_[static_cast<size_t>(id)] = false;  // its contents are about to be overwritten
  return id;
}

void BlockPool::retain(BlockId id) {
  check_id(id, "retain");
  if (ref_[static_cast<size_t>(id)] == 0)
    fail<InvalidArgument>("retain: block ", id, " is free (ref count 0): sharing it would be a use after free");
  ++ref_[static_cast<size_t>(id)];
}

void BlockPool::release(BlockId id) {
  check_id(id, "release");
  if (ref_[static_cast<size_t>(id)] == 0)
    fail<InvalidArgument>("release: block ", id, " is already free (ref count 0): a double free");
  if (--ref_[static_cast<size_t>(id)] == 0) free_.push_back(id);  // contents and hash kept: findable until reused
}

// Step 4.
void BlockPool::reuse(BlockId id) {
  check_id(id, "reuse");
  if (ref_[static_cast<size_t>(id)] > 0) {
    ++ref_[static_cast<size_t>(id)];  // in use by another sequence: one more owner
    return;
  }
  // Free but still holding its prefix: take it back out of the free list, wherever it sits (O(NB), as
  // nano-vLLM does; an intrusive list would make it O(1)).
  free_.erase(std::find(free_.begin(), free_.end(), id));
  ref_[static_cast<size_t>(id)] = 1;
}

}  // namespace llm
