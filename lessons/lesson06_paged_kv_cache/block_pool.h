// block_pool.h — lesson 06's contract, part 1: the block pool, the memory of the paged KV cache.
// A fixed number of blocks, each holding the keys and values of block_size positions for every layer
// and every KV head; a free list; a reference count per block, so that one block can belong to several
// sequences (a shared prompt prefix, a forked sequence) and goes back to the pool with its last owner.
// Not here: swapping blocks out to CPU memory or disk, several pools, blocks of different sizes.
//
// Dimension legend (docs/dimensions.md): L layers, KV key/value heads, D head_dim, BS block_size
// (positions per block), NB num_blocks (blocks in the pool).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "llm/config.h"
#include "llm/errors.h"
#include "llm/tensor.h"

namespace llm {

using BlockId = std::int32_t;     // a physical block: 0 .. NB-1
using BlockHash = std::uint64_t;  // what prefix caching calls a full block's contents (prefix_cache.h)

// The pool has fewer free blocks than a request needs. A scheduler asks can_allocate() first and
// preempts or waits; when this is thrown anyway, nothing has changed (every operation that can throw it
// checks before it takes anything).
class OutOfBlocks : public Error {
 public:
  using Error::Error;
};

// Limits the constructor enforces (a CPU course model; anything larger is an input mistake).
inline constexpr Index kMaxBlockSize = 4096;                      // positions per block
inline constexpr Index kMaxNumBlocks = Index{1} << 24;            // blocks per pool
inline constexpr std::size_t kMaxPoolBytes = std::size_t{1} << 32;  // 4 GiB of K and V

class BlockPool {
 public:
  // Given. Allocates K and V for NB blocks of BS positions for the model's L layers, KV heads and D,
  // every block free, the free list in id order 0, 1, ..., NB-1. The config is validated first;
  // InvalidArgument naming the value and the limit when block_size is outside [1, kMaxBlockSize],
  // num_blocks outside [1, kMaxNumBlocks], or the pool would take more than kMaxPoolBytes.
  BlockPool(const ModelConfig& config, Index num_blocks, Index block_size);
  BlockPool(const BlockPool&) = delete;  // the cache is big: never copied by accident
  BlockPool& operator=(const BlockPool&) = delete;

  Index num_blocks() const { return static_cast<Index>(ref_.size()); }  // NB
  Index block_size() const { return block_size_; }                       // BS
  Index num_layers() const { return static_cast<Index>(k_.size()); }    // L
  Index num_kv_heads() const { return num_kv_heads_; }                   // KV
  Index head_dim() const { return head_dim_; }                           // D

  // ---------------------------------------------------------------------------------------------
  // Step 1: the allocator
  // ---------------------------------------------------------------------------------------------

  // Takes the block at the FRONT of the free list — the one freed longest ago — and returns it with
  // reference count 1. Its old contents stay (the caller overwrites them), but its hash is forgotten:
  // whatever prefix it held can no longer be found. OutOfBlocks naming the pool size when none is free.
  BlockId allocate();
  // One more owner for a block in use (ref count + 1). InvalidArgument for an id outside [0, NB) or a
  // free block (ref count 0): sharing a block nobody owns would be a use after free.
  void retain(BlockId id);
  // One owner fewer (ref count - 1). At 0 the block goes to the BACK of the free list, its contents and
  // hash kept, so a prefix cache can still find it until allocate() reuses it (least recently freed
  // first). InvalidArgument for an id outside [0, NB) or a block already free (a double free).
  void release(BlockId id);

  // Given.
  int ref_count(BlockId id) const;  // InvalidArgument for an id outside [0, NB)
  Index num_free() const { return static_cast<Index>(free_.size()); }
  Index num_used() const { return num_blocks() - num_free(); }
  bool can_allocate(Index n) const { return n <= num_free(); }  // n more blocks available now?

  // ---------------------------------------------------------------------------------------------
  // Step 4: what prefix caching needs from the pool
  // ---------------------------------------------------------------------------------------------

  // Takes one more reference to a block that holds a cached prefix. In use: like retain(). Free (ref
  // count 0, contents and hash kept): take it out of the free list, wherever it is, with ref count 1.
  // InvalidArgument for an id outside [0, NB).
  void reuse(BlockId id);

  // Given. The hash a prefix cache registered for this block (set_block_hash), until allocate() hands the
  // block out again; nullopt for a block that holds no registered prefix.
  std::optional<BlockHash> block_hash(BlockId id) const;
  void set_block_hash(BlockId id, BlockHash hash);  // InvalidArgument for a free block
  void clear_block_hash(BlockId id);                // the block is about to be rewritten (crop)

  // ---------------------------------------------------------------------------------------------
  // Given: the storage
  // ---------------------------------------------------------------------------------------------

  // One block of one layer and KV head, read and written in place. As in lesson 02's cache, keys are
  // stored transposed, so one query's scores over a block are D multiply-adds of contiguous rows:
  //   keys():   (D, BS), row stride BS — column j is the key of the block's position j
  //   values(): (BS, D), row stride D  — row j is the value of the block's position j
  // InvalidArgument for a layer, block or KV head out of range, or a free block (use after free).
  float* keys(Index layer, BlockId id, Index kv_head);
  const float* keys(Index layer, BlockId id, Index kv_head) const;
  float* values(Index layer, BlockId id, Index kv_head);
  const float* values(Index layer, BlockId id, Index kv_head) const;

  // Copies every layer's K and V of block `from` into block `to` (copy-on-write, step 5).
  void copy_block(BlockId from, BlockId to);

  std::size_t block_bytes() const;  // K and V of one block: 2 x L x KV x D x BS x 4
  std::size_t bytes() const;        // the whole pool: NB x block_bytes()

 private:
  void check_id(BlockId id, const char* what) const;  // InvalidArgument outside [0, NB)
  Index offset(Index layer, BlockId id, Index kv_head) const;  // checks, then (id * KV + kv_head) * D * BS

  Index block_size_ = 0, num_kv_heads_ = 0, head_dim_ = 0;
  std::vector<Tensor> k_;           // per layer: (NB, KV, D, BS), keys transposed per block and head
  std::vector<Tensor> v_;           // per layer: (NB, KV, BS, D)
  std::vector<int> ref_;            // (NB) owners of each block; 0 = free
  std::deque<BlockId> free_;        // the free blocks, least recently freed at the front
  std::vector<BlockHash> hash_;     // (NB) the registered hash of each block, valid where has_hash_
  std::vector<bool> has_hash_;      // (NB)
};

}  // namespace llm
