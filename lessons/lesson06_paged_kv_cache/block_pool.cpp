// block_pool.cpp — YOUR lesson 06 work, steps 1 and 4: the allocator of the block pool (allocate,
// retain, release over the free list and the reference counts) and reuse() for prefix caching. The
// storage, ref_count(), the hashes and the block access are given in given.cpp.
// The reference is solutions/lesson06_paged_kv_cache/block_pool.cpp — try before you look.
//
// Legend: NB num_blocks. Members (block_pool.h): ref_ (NB) owners per block, free_ the free list
// (front = least recently freed), has_hash_ (NB) whether a block holds a registered prefix.
#include "block_pool.h"

#include <algorithm>

#include "llm/errors.h"

namespace llm {

BlockId BlockPool::allocate() {
  // TODO(step 1): OutOfBlocks naming the pool size (num_blocks()) when free_ is empty. Otherwise take
  //   the id at the FRONT of free_ (pop_front: the block freed longest ago), set its ref count to 1,
  //   forget its hash (has_hash_[id] = false: its contents are about to be overwritten) and return it.
  throw NotImplemented("lesson06 step 1: allocate a block from the front of the free list");
}

void BlockPool::retain(BlockId id) {
  // TODO(step 1): check_id(id, "retain") (given: InvalidArgument outside [0, NB)); InvalidArgument
  //   naming the block when its ref count is 0 (sharing a free block is a use after free); else ref + 1.
  (void)id;
  throw NotImplemented("lesson06 step 1: retain a block (one more owner)");
}

void BlockPool::release(BlockId id) {
  // TODO(step 1): check_id(id, "release"); InvalidArgument naming the block when its ref count is
  //   already 0 (a double free); else ref - 1, and at 0 push the id to the BACK of free_. Keep its
  //   contents and its hash: a prefix cache can still find it until allocate() hands it out again.
  (void)id;
  throw NotImplemented("lesson06 step 1: release a block (one owner fewer, free at zero)");
}

void BlockPool::reuse(BlockId id) {
  // TODO(step 4): check_id(id, "reuse"). A block in use (ref > 0): ref + 1. A free block (ref 0, still
  //   holding a cached prefix): remove it from free_ wherever it is (std::find + erase) and set ref 1.
  (void)id;
  throw NotImplemented("lesson06 step 4: reuse a cached block (take it back from the free list)");
}

}  // namespace llm
