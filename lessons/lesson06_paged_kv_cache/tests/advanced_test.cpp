// advanced_test.cpp — lesson 06's advanced suite: the properties that make a paged cache trustworthy.
// Exact block accounting under seeded random mixes; paged attention equal to lesson 02's contiguous
// attention for block sizes 1, 3 and 16, MHA, GQA and MQA, prefill chunks and decode steps; prefix
// sharing counted block by block, with LRU eviction; copy-on-write that never touches the parent, bit
// for bit; the model on the paged cache equal to lesson 04 (random configs and the real stories260K,
// up to 511 new tokens); exhaustion in the middle of a generation that leaks nothing; bad input refused.
//
// Legend: T new tokens, P positions before them, N positions in a table, H query heads, KV key/value
// heads, D head_dim, BS block_size, NB num_blocks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "block_pool.h"
#include "block_table.h"
#include "causal_lm.h"
#include "llm/checkpoint.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/rng.h"
#include "llm/tensor.h"
#include "paged_attention.h"
#include "paged_model.h"
#include "prefix_cache.h"
#include "test_paged.h"
#include "test_support.h"
#include "tokenizer.h"

using llm::BlockId;
using llm::BlockPool;
using llm::BlockTable;
using llm::Index;
using llm::InvalidArgument;
using llm::ModelConfig;
using llm::OutOfBlocks;
using llm::PrefixCache;
using llm::Shape;
using llm::Tensor;

namespace {

using lesson06_test::gather;
using lesson06_test::Ids;
using lesson06_test::pool_is_empty;
using lesson06_test::prompt_ids;
using lesson06_test::rows;
using llm::testing::contains;
using llm::testing::error_message;
using llm::testing::max_diff;
using llm::testing::seeded;

Index blocks_for(Index n, Index bs) { return (n + bs - 1) / bs; }

// a followed by b.
Ids concat(const Ids& a, const Ids& b) {
  Ids out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// The largest |a(t, j) - b(0, t0 + t, j)| over the rows of a: paged logits (T, V) against lesson 04's
// (1, S, V) starting at position t0.
float logits_diff(const Tensor& paged, const Tensor& contiguous, Index t0) {
  float worst = 0.0f;
  for (Index t = 0; t < paged.size(0); ++t)
    for (Index j = 0; j < paged.size(1); ++j)
      worst = std::max(worst, std::fabs(paged(t, j) - contiguous(0, t0 + t, j)));
  return worst;
}

}  // namespace

// ================================================================================================
// Step 1: the allocator
// ================================================================================================

TEST_CASE("step 1: bad pool sizes are refused and a one-block pool allocates and frees its block") {
  const ModelConfig cfg = ModelConfig::tiny();
  std::string msg = error_message<InvalidArgument>([&] { BlockPool(cfg, 4, 0); });
  CHECK_MESSAGE((contains(msg, "block_size = 0") && contains(msg, "4096")), "block_size 0 names value and limit: " << msg);
  msg = error_message<InvalidArgument>([&] { BlockPool(cfg, 0, 16); });
  CHECK_MESSAGE(contains(msg, "num_blocks = 0"), "an empty pool is refused: " << msg);
  msg = error_message<InvalidArgument>([&] { BlockPool(cfg, Index{1} << 24, 4096); });
  CHECK_MESSAGE(contains(msg, "more than the limit"), "a pool over the byte limit is refused before allocating: " << msg);

  BlockPool pool(cfg, 1, 16);
  const BlockId id = pool.allocate();
  CHECK(id == 0);
  error_message<OutOfBlocks>([&] { pool.allocate(); });
  pool.release(id);
  CHECK_MESSAGE(pool.allocate() == 0, "a released block can be allocated again");
}

TEST_CASE("step 1: a seeded random mix of allocate retain and release keeps every count exact") {
  // A shadow model of the pool: ref counts and the free list in LRU order, checked after every operation.
  BlockPool pool(ModelConfig::tiny(), 16, 2);
  std::vector<int> refs(16, 0);
  std::deque<BlockId> free_list;
  for (BlockId id = 0; id < 16; ++id) free_list.push_back(id);
  llm::Rng rng(5);
  for (int op = 0; op < 600; ++op) {
    CAPTURE(op);
    const auto kind = rng.next_u64() % 3;
    std::vector<BlockId> used;
    for (BlockId id = 0; id < 16; ++id)
      if (refs[static_cast<size_t>(id)] > 0) used.push_back(id);
    if (kind == 0 && !free_list.empty()) {
      const BlockId id = pool.allocate();
      REQUIRE_MESSAGE(id == free_list.front(), "allocate must hand out the least recently freed block");
      free_list.pop_front();
      refs[static_cast<size_t>(id)] = 1;
    } else if (kind == 1 && !used.empty()) {
      const BlockId id = used[rng.next_u64() % used.size()];
      pool.retain(id);
      ++refs[static_cast<size_t>(id)];
    } else if (!used.empty()) {
      const BlockId id = used[rng.next_u64() % used.size()];
      pool.release(id);
      if (--refs[static_cast<size_t>(id)] == 0) free_list.push_back(id);
    }
    REQUIRE_MESSAGE(pool.num_free() == static_cast<Index>(free_list.size()),
                    "num_free must count exactly the blocks whose ref count is 0");
    for (BlockId id = 0; id < 16; ++id)
      REQUIRE_MESSAGE(pool.ref_count(id) == refs[static_cast<size_t>(id)], "block " << id << ": wrong ref count");
  }
}

// ================================================================================================
// Step 2: the block table
// ================================================================================================

TEST_CASE("step 2: blocks in use equal the sum of ceil of length over block_size and freeing all empties the pool") {
  for (Index bs : {1, 3, 16}) {
    CAPTURE(bs);
    BlockPool pool(ModelConfig::tiny(), 1000, bs);
    std::vector<std::unique_ptr<BlockTable>> tables;
    for (int i = 0; i < 12; ++i) tables.push_back(std::make_unique<BlockTable>(pool));
    llm::Rng rng(static_cast<std::uint64_t>(bs));
    for (int op = 0; op < 150; ++op) {
      BlockTable& t = *tables[rng.next_u64() % tables.size()];
      t.append(static_cast<Index>(rng.next_u64() % 7));  // 0 .. 6 positions, interleaved across tables
      Index expected = 0;
      for (const auto& x : tables) expected += blocks_for(x->length(), bs);
      REQUIRE_MESSAGE(pool.num_used() == expected,
                      "blocks in use must equal the sum over sequences of ceil(length / block_size)");
    }
    for (size_t i : {5u, 0u, 11u, 3u, 7u, 1u, 2u, 4u, 6u, 8u, 9u, 10u}) tables[i]->release();
    CHECK_MESSAGE(pool_is_empty(pool), "after every table is released the pool is full again, every ref count 0");
  }
}

TEST_CASE("step 2: a released table has no slot and its old blocks cannot be read") {
  const ModelConfig cfg = lesson06_test::heads_config(2, 1);
  BlockPool pool(cfg, 4, 4);
  BlockTable table(pool);
  table.append(6);
  const BlockId old = table.blocks()[0];
  table.release();
  std::string msg = error_message<InvalidArgument>([&] { (void)table.slot(0); });
  CHECK_MESSAGE(contains(msg, "0"), "after release the table has no position 0: " << msg);
  msg = error_message<InvalidArgument>([&] { (void)pool.keys(0, old, 0); });
  CHECK_MESSAGE(contains(msg, "use after free"), "a freed block cannot be read through the pool: " << msg);
  msg = error_message<InvalidArgument>([&] { table.append(-1); });
  CHECK_MESSAGE(contains(msg, "-1"), "a negative append is refused naming it: " << msg);
}

// ================================================================================================
// Step 3: paged attention
// ================================================================================================

TEST_CASE("step 3: paged attention equals lesson 02's attention for block sizes 1 3 16 with MHA GQA and MQA") {
  // 37 positions: a prefill of 11, a chunk of 9, then 17 single decode steps; 37 ends mid-block for
  // block sizes 3 and 16. Layer 1 is used; layer 0 holds other numbers that must not leak in.
  const Index chunks[] = {11, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  for (int kv : {4, 2, 1}) {
    const ModelConfig cfg = lesson06_test::heads_config(4, kv);  // H 4, D 8
    const Index KVD = kv * 8;
    const Tensor k = seeded(Shape{37, KVD}, 10), v = seeded(Shape{37, KVD}, 11), q = seeded(Shape{37, 32}, 12);
    for (Index bs : {1, 3, 16}) {
      CAPTURE(kv);
      CAPTURE(bs);
      BlockPool pool(cfg, 64, bs);
      BlockTable table(pool);
      Index P = 0;
      for (Index T : chunks) {
        CAPTURE(P);
        table.append(T);
        store_kv(table, 0, P, seeded(Shape{T, KVD}, 99), seeded(Shape{T, KVD}, 98));  // noise in layer 0
        store_kv(table, 1, P, rows(k, P, P + T), rows(v, P, P + T));
        const Tensor paged = paged_attention(table, 1, P, rows(q, P, P + T));
        const Tensor expected = lesson06_test::contiguous_attention(rows(q, P, P + T), rows(k, 0, P + T), rows(v, 0, P + T), kv);
        REQUIRE_MESSAGE(max_diff(paged, expected) <= 1e-5f,
                        "paged attention over positions 0 .. P+t must equal the contiguous one: every block of the "
                        "table, the last one only up to the length, query head h on KV head h / G, its own layer");
        P += T;
      }
    }
  }
}

TEST_CASE("step 3: paged attention follows the table to blocks anywhere in the pool") {
  const ModelConfig cfg = lesson06_test::heads_config(4, 2);
  BlockPool pool(cfg, 12, 4);
  // Put the free list out of order: the table gets blocks 9, 3, 6, 0, 11.
  for (int i = 0; i < 12; ++i) pool.allocate();
  for (BlockId id : {9, 3, 6, 0, 11, 1, 2, 4, 5, 7, 8, 10}) pool.release(id);
  BlockTable table(pool);
  table.append(18);
  REQUIRE(table.blocks() == std::vector<BlockId>({9, 3, 6, 0, 11}));
  const Tensor k = seeded(Shape{18, 16}, 1), v = seeded(Shape{18, 16}, 2), q = seeded(Shape{5, 32}, 3);
  store_kv(table, 0, 0, k, v);
  const Tensor paged = paged_attention(table, 0, 13, q);
  CHECK_MESSAGE(max_diff(paged, lesson06_test::contiguous_attention(q, k, v, 2)) <= 1e-5f,
                "logical block i is physical block blocks()[i], wherever it is: never assume blocks are consecutive");
}

TEST_CASE("step 3: a query never sees a position after its own") {
  const ModelConfig cfg = lesson06_test::heads_config(2, 2);
  BlockPool pool(cfg, 8, 3);
  BlockTable table(pool);
  table.append(8);
  Tensor k = seeded(Shape{8, 16}, 1), v = seeded(Shape{8, 16}, 2);
  const Tensor q = seeded(Shape{8, 16}, 3);
  store_kv(table, 0, 0, k, v);
  const Tensor before = paged_attention(table, 0, 0, q);
  for (Index d = 0; d < 16; ++d) {  // change the last two positions
    k(6, d) += 5.0f, v(6, d) -= 3.0f, k(7, d) *= -2.0f, v(7, d) += 7.0f;
  }
  store_kv(table, 0, 6, rows(k, 6, 8), rows(v, 6, 8));
  const Tensor after = paged_attention(table, 0, 0, q);
  CHECK_MESSAGE(max_diff(rows(before, 0, 6), rows(after, 0, 6)) == 0.0f,
                "causality inside a chunk: query t (position first + t) reads positions 0 .. first + t only");
  CHECK_MESSAGE(max_diff(rows(before, 6, 8), rows(after, 6, 8)) > 0.0f, "queries 6 and 7 do see their own positions");
}

TEST_CASE("step 3: positions without a slot and wrong shapes are refused before anything is written") {
  const ModelConfig cfg = lesson06_test::heads_config(4, 2);
  BlockPool pool(cfg, 4, 4);
  BlockTable table(pool);
  table.append(6);
  store_kv(table, 0, 0, seeded(Shape{6, 16}, 1), seeded(Shape{6, 16}, 2));
  const Tensor keys_before = gather(table, 0, true);
  std::string msg = error_message<InvalidArgument>([&] { store_kv(table, 0, 4, seeded(Shape{3, 16}, 3), seeded(Shape{3, 16}, 4)); });
  CHECK_MESSAGE((contains(msg, "7") && contains(msg, "6")), "positions 4 .. 6 but the table holds 6: names both: " << msg);
  CHECK_MESSAGE(max_diff(gather(table, 0, true), keys_before) == 0.0f,
                "a refused store_kv writes nothing (positions 4 and 5 had slots, yet must be untouched)");
  msg = error_message<InvalidArgument>([&] { (void)paged_attention(table, 0, -1, seeded(Shape{1, 32}, 5)); });
  CHECK_MESSAGE(contains(msg, "-1"), "a negative first position is refused: " << msg);
  msg = error_message<InvalidArgument>([&] { (void)paged_attention(table, 2, 0, seeded(Shape{1, 32}, 5)); });
  CHECK_MESSAGE(contains(msg, "2"), "layer 2 of a 2-layer pool is refused naming it: " << msg);
  error_message<llm::ShapeError>([&] { store_kv(table, 0, 0, seeded(Shape{2, 8}, 6), seeded(Shape{2, 8}, 7)); });
  error_message<llm::ShapeError>([&] { (void)paged_attention(table, 0, 0, seeded(Shape{1, 12}, 8)); });
}

// ================================================================================================
// Step 4: prefix caching
// ================================================================================================

TEST_CASE("step 4: prompts with a common 100-token prefix share exactly floor of 100 over block_size blocks") {
  const Ids common = prompt_ids(100, 64, 7);
  Ids tail_a = prompt_ids(20, 64, 8), tail_b = prompt_ids(20, 64, 9);
  tail_b[0] = tail_a[0] == 5 ? 6 : 5;  // the prompts differ from token 100 on
  const Ids a = concat(common, tail_a), b = concat(common, tail_b);
  for (Index bs : {1, 3, 16}) {
    CAPTURE(bs);
    BlockPool pool(ModelConfig::tiny(), 300, bs);
    PrefixCache cache(pool);
    BlockTable first(pool), second(pool);
    first.append(static_cast<Index>(a.size()));
    cache.publish(first, a);
    const Index cached = cache.attach(second, b);
    const Index shared_blocks = 100 / bs;
    CHECK_MESSAGE(cached == shared_blocks * bs, "the common prefix is cached in whole blocks: floor(100 / BS) of them");
    Index shared = 0;
    for (BlockId id : second.blocks()) shared += std::count(first.blocks().begin(), first.blocks().end(), id);
    CHECK_MESSAGE(shared == shared_blocks, "exactly floor(100 / block_size) physical blocks are shared");
    for (Index i = 0; i < second.num_blocks(); ++i)
      REQUIRE_MESSAGE(pool.ref_count(second.blocks()[static_cast<size_t>(i)]) == 2, "each shared block has 2 owners");
    second.append(static_cast<Index>(b.size()) - cached);
    CHECK_MESSAGE(pool.num_used() == blocks_for(120, bs) + blocks_for(120, bs) - shared_blocks,
                  "the second prompt takes new blocks only for what is not shared");
  }
}

TEST_CASE("step 4: a prefix that differs in one token shares only the blocks before that token") {
  const Index bs = 16;
  const Ids base = prompt_ids(120, 64, 3);
  BlockPool pool(ModelConfig::tiny(), 32, bs);
  PrefixCache cache(pool);
  BlockTable table(pool);
  table.append(120);
  cache.publish(table, base);
  for (Index at : {0, 5, 16, 47, 95, 111}) {
    CAPTURE(at);
    Ids other = base;
    other[static_cast<size_t>(at)] = other[static_cast<size_t>(at)] == 1 ? 2 : 1;
    CHECK_MESSAGE(cache.match(other) == at / bs * bs,
                  "a block is reused only when it AND every block before it hold the same tokens (the hash chains the "
                  "parent): a change at token i keeps floor(i / BS) blocks");
  }
}

TEST_CASE("step 4: freed blocks stay findable until the pool reuses them least recently freed first") {
  BlockPool pool(ModelConfig::tiny(), 6, 4);
  PrefixCache cache(pool);
  const Ids tokens = prompt_ids(10, 64);  // blocks 0 and 1 full, block 2 partial
  {
    BlockTable table(pool);
    table.append(10);  // blocks 0, 1, 2
    cache.publish(table, tokens);
    table.release();  // last first: the free list is now 3 4 5 | 2 1 0
  }
  CHECK_MESSAGE(cache.match(tokens) == 8, "released blocks keep their contents and hash: still found");
  std::vector<BlockId> taken;
  const Index expected_match[] = {8, 8, 8, 8, 4, 0};
  for (int i = 0; i < 6; ++i) {
    CAPTURE(i);
    taken.push_back(pool.allocate());
    CHECK_MESSAGE(cache.match(tokens) == expected_match[i],
                  "allocate evicts the least recently freed block first and forgets its hash; a table is released "
                  "last block first, so its prefix is evicted from the tail");
  }
  for (BlockId id : taken) pool.release(id);
}

TEST_CASE("step 4: attaching a released prefix takes its blocks back out of the free list") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  PrefixCache cache(pool);
  const Ids tokens = prompt_ids(13, 64);
  BlockTable first(pool);
  first.append(13);
  cache.publish(first, tokens);
  const std::vector<BlockId> blocks = first.blocks();
  first.release();
  REQUIRE(pool.num_free() == 8);
  BlockTable second(pool);
  CHECK_MESSAGE(cache.attach(second, tokens) == 12, "three full blocks of the released prompt are still cached");
  CHECK_MESSAGE(pool.num_free() == 5, "reuse() takes a free cached block out of the free list");
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(second.blocks()[static_cast<size_t>(i)] == blocks[static_cast<size_t>(i)]);
    CHECK_MESSAGE(pool.ref_count(blocks[static_cast<size_t>(i)]) == 1, "a block taken back from the free list has one owner");
  }
  second.release();
  CHECK(pool_is_empty(pool));
  BlockTable third(pool);
  third.append(1);
  const std::string msg = error_message<InvalidArgument>([&] { cache.attach(third, tokens); });
  CHECK_MESSAGE(contains(msg, "1"), "attach needs an empty table; the message names its length: " << msg);
}

TEST_CASE("step 4: a block is published only once it is full") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  PrefixCache cache(pool);
  const Ids tokens = prompt_ids(14, 64);
  BlockTable table(pool);
  for (Index n = 1; n <= 13; ++n) {  // decode-style: one position at a time, published every step
    CAPTURE(n);
    table.append(1);
    cache.publish(table, std::span<const std::int32_t>(tokens).first(static_cast<size_t>(n)));
    CHECK_MESSAGE(cache.match(tokens) == n / 4 * 4, "only full blocks are registered: a partial block can still change");
  }
}

TEST_CASE("step 4: a published block cut back by crop is no longer found") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  PrefixCache cache(pool);
  const Ids tokens = prompt_ids(12, 64);
  BlockTable table(pool);
  table.append(9);
  cache.publish(table, tokens);
  REQUIRE(cache.match(tokens) == 8);
  table.crop(6);  // block 1 is partial again and will be rewritten: its name must go
  CHECK_MESSAGE(cache.match(tokens) == 4, "a block that is written again must not be found under its old name");
  table.append(2);
  cache.publish(table, tokens);
  CHECK_MESSAGE(cache.match(tokens) == 8, "once full again, publish registers it again");
}

// ================================================================================================
// Step 5: fork with copy-on-write
// ================================================================================================

TEST_CASE("step 5: writing to a forked child never changes the parent's K/V bit for bit") {
  const ModelConfig cfg = lesson06_test::heads_config(4, 2, /*layers=*/3);
  for (Index bs : {1, 3, 16}) {
    CAPTURE(bs);
    BlockPool pool(cfg, 64, bs);
    BlockTable parent(pool);
    parent.append(23);  // ends mid-block for 3 and 16
    for (Index l = 0; l < 3; ++l)
      store_kv(parent, l, 0, seeded(Shape{23, 16}, 10 + static_cast<std::uint64_t>(l)),
               seeded(Shape{23, 16}, 20 + static_cast<std::uint64_t>(l)));
    std::vector<Tensor> before;
    for (Index l = 0; l < 3; ++l) before.push_back(gather(parent, l, true)), before.push_back(gather(parent, l, false));
    BlockTable child = parent.fork();
    child.append(30);
    for (Index l = 0; l < 3; ++l)  // the child rewrites every position it can write: 23 .. 52
      store_kv(child, l, 23, seeded(Shape{30, 16}, 30 + static_cast<std::uint64_t>(l)),
               seeded(Shape{30, 16}, 40 + static_cast<std::uint64_t>(l)));
    for (Index l = 0; l < 3; ++l) {
      CAPTURE(l);
      CHECK_MESSAGE(max_diff(gather(parent, l, true), before[static_cast<size_t>(2 * l)]) == 0.0f,
                    "the child's writes must never reach the parent's keys: copy a shared partial block before writing");
      CHECK_MESSAGE(max_diff(gather(parent, l, false), before[static_cast<size_t>(2 * l + 1)]) == 0.0f,
                    "the child's writes must never reach the parent's values");
      const Tensor child_keys = gather(child, l, true);
      Tensor child_prefix(Shape{2, 23, 8});
      for (Index g = 0; g < 2; ++g)
        for (Index p = 0; p < 23; ++p)
          for (Index d = 0; d < 8; ++d) child_prefix(g, p, d) = child_keys(g, p, d);
      CHECK_MESSAGE(max_diff(child_prefix, before[static_cast<size_t>(2 * l)]) == 0.0f,
                    "the child still sees the parent's 23 positions (the copy took the written part of the block)");
    }
  }
}

TEST_CASE("step 5: a parent and two forks each attend to their own tokens after they diverge") {
  const ModelConfig cfg = lesson06_test::heads_config(4, 2);
  BlockPool pool(cfg, 32, 4);
  BlockTable parent(pool);
  parent.append(10);
  const Tensor k0 = seeded(Shape{10, 16}, 1), v0 = seeded(Shape{10, 16}, 2);
  store_kv(parent, 0, 0, k0, v0);
  std::vector<BlockTable> seqs;
  seqs.push_back(parent.fork());
  seqs.push_back(parent.fork());
  seqs.push_back(std::move(parent));  // the parent writes too
  for (size_t i = 0; i < seqs.size(); ++i) {
    CAPTURE(i);
    const Tensor k1 = seeded(Shape{5, 16}, 10 + i), v1 = seeded(Shape{5, 16}, 20 + i);
    seqs[i].append(5);
    store_kv(seqs[i], 0, 10, k1, v1);
    Tensor k(Shape{15, 16}), v(Shape{15, 16});
    std::copy_n(k0.data(), 160, k.data()), std::copy_n(k1.data(), 80, k.data() + 160);
    std::copy_n(v0.data(), 160, v.data()), std::copy_n(v1.data(), 80, v.data() + 160);
    const Tensor q = seeded(Shape{5, 32}, 30 + i);
    CHECK_MESSAGE(max_diff(paged_attention(seqs[i], 0, 10, q), lesson06_test::contiguous_attention(q, k, v, 2)) <= 1e-5f,
                  "each fork reads the shared prefix and its own new positions, never a sibling's");
  }
  for (BlockTable& t : seqs) t.release();
  CHECK_MESSAGE(pool_is_empty(pool), "releasing the parent and its forks returns every block exactly once");
}

TEST_CASE("step 5: a copy-on-write that finds the pool empty throws OutOfBlocks and changes nothing") {
  BlockPool pool(ModelConfig::tiny(), 2, 4);
  BlockTable parent(pool);
  parent.append(6);  // both blocks
  BlockTable child = parent.fork();
  CHECK_MESSAGE(child.blocks_needed(1) == 1, "one position into a shared partial block needs one block: the copy");
  error_message<OutOfBlocks>([&] { child.append(1); });
  CHECK_MESSAGE(child.length() == 6, "a refused append leaves the fork as it was");
  CHECK_MESSAGE(child.blocks() == parent.blocks(), "a refused copy-on-write keeps the shared block");
  CHECK_MESSAGE(pool.ref_count(parent.blocks()[1]) == 2, "ref counts unchanged after the refusal");
  parent.release();
  child.append(1);
  CHECK_MESSAGE(child.num_blocks() == 2, "alone again, the child writes in place");
}

// ================================================================================================
// Step 6: the model on the paged cache
// ================================================================================================

TEST_CASE("step 6: a chunked paged forward equals the one-shot contiguous forward for block sizes 1 3 16") {
  for (int kv : {2, 4}) {  // GQA (the lesson config) and MHA
    ModelConfig cfg = ModelConfig::lesson();
    cfg.num_key_value_heads = kv;
    const llm::CausalLM model(cfg, 7);
    const Ids prompt = prompt_ids(30, cfg.vocab_size, 11);
    const Tensor expected = model.forward(llm::make_ids({prompt})).logits;  // (1, 30, V)
    for (Index bs : {1, 3, 16}) {
      CAPTURE(kv);
      CAPTURE(bs);
      BlockPool pool(cfg, 64, bs);
      BlockTable table(pool);
      Index P = 0;
      for (Index T : {10, 1, 14, 5}) {
        CAPTURE(P);
        const Tensor logits = paged_forward(model, table, std::span<const std::int32_t>(prompt).subspan(
                                                             static_cast<size_t>(P), static_cast<size_t>(T)));
        REQUIRE_MESSAGE(logits_diff(logits, expected, P) <= 1e-4f,
                        "chunk after chunk, the paged forward must give lesson 04's logits: positions from the table's "
                        "length, every layer its own K/V");
        P += T;
      }
      CHECK(table.length() == 30);
    }
  }
}

TEST_CASE("step 6: decoding one token at a time on the paged cache matches the full forward at every position") {
  const ModelConfig cfg = lesson06_test::varied_config();
  const llm::CausalLM model(cfg, 3);
  const Ids tokens = prompt_ids(24, cfg.vocab_size, 5);
  const Tensor expected = model.forward(llm::make_ids({tokens})).logits;
  BlockPool pool(cfg, 16, 5);
  BlockTable table(pool);
  for (Index t = 0; t < 24; ++t) {
    CAPTURE(t);
    const Tensor step = paged_forward(model, table, std::span<const std::int32_t>(tokens).subspan(static_cast<size_t>(t), 1));
    REQUIRE_MESSAGE(logits_diff(step, expected, t) <= 1e-4f, "decode step at position t must equal the full forward's row t");
  }
}

TEST_CASE("step 6: a pool too small throws OutOfBlocks and leaves the table and the pool unchanged") {
  const ModelConfig cfg = ModelConfig::lesson();
  const llm::CausalLM model(cfg, 42);
  const Ids tokens = prompt_ids(12, cfg.vocab_size);
  BlockPool pool(cfg, 3, 4);  // room for 12 positions
  BlockTable table(pool);
  paged_forward(model, table, std::span<const std::int32_t>(tokens).first(10));
  const std::vector<BlockId> blocks = table.blocks();
  const Ids too_many = {5, 6, 7};
  error_message<OutOfBlocks>([&] { paged_forward(model, table, too_many); });
  CHECK_MESSAGE(table.length() == 10, "a forward refused for lack of blocks leaves the table's length");
  CHECK_MESSAGE(table.blocks() == blocks, "a forward refused for lack of blocks leaves the table's blocks");
  CHECK_MESSAGE(pool.num_free() == 0, "and takes nothing from the pool");
  const Tensor last = paged_forward(model, table, std::span<const std::int32_t>(tokens).subspan(10));
  CHECK_MESSAGE(logits_diff(last, model.forward(llm::make_ids({tokens})).logits, 10) <= 1e-4f,
                "after the refusal the cache still gives the right logits");
}

TEST_CASE("step 6: bad tokens and a pool of another model are InvalidArgument and change nothing") {
  const ModelConfig cfg = ModelConfig::lesson();
  const llm::CausalLM model(cfg, 42);
  BlockPool pool(cfg, 4, 4);
  BlockTable table(pool);
  paged_forward(model, table, Ids({3}));
  REQUIRE(table.length() == 1);
  std::string msg = error_message<InvalidArgument>([&] { paged_forward(model, table, Ids({3, cfg.vocab_size})); });
  REQUIRE_MESSAGE((contains(msg, "1000") && contains(msg, "[0, 1000)")), "names the id and the vocabulary: " << msg);
  msg = error_message<InvalidArgument>([&] { paged_forward(model, table, Ids{}); });
  REQUIRE_MESSAGE(contains(msg, "empty"), "no token to run: " << msg);
  BlockPool other(ModelConfig::tiny(), 4, 4);
  BlockTable other_table(other);
  msg = error_message<InvalidArgument>([&] { paged_forward(model, other_table, Ids({3})); });
  REQUIRE_MESSAGE(contains(msg, "another model"), "a pool shaped for another model is refused: " << msg);
  CHECK_MESSAGE((table.length() == 1 && pool.num_free() == 3 && other.num_free() == 4),
                "check_paged_forward runs before the table grows: refused calls take no slot");
}

// ================================================================================================
// Step 7: generation on the paged cache
// ================================================================================================

TEST_CASE("step 7: a shared 100-token prefix prefills only the remainder and generates what it generates alone") {
  const ModelConfig cfg = lesson06_test::varied_config();
  const llm::CausalLM model(cfg, 42);
  const Ids common = prompt_ids(100, cfg.vocab_size, 21);
  const Ids a = concat(common, prompt_ids(12, cfg.vocab_size, 22)), b = concat(common, prompt_ids(12, cfg.vocab_size, 23));
  const Ids a_alone = lesson06_test::contiguous_greedy(model, a, 4);  // lesson 04, no sharing
  BlockPool fresh(cfg, 64, 16);
  const Ids b_alone = paged_generate(model, fresh, b, {.max_new_tokens = 4}).tokens;  // paged, no sharing
  for (Index bs : {3, 16}) {
    CAPTURE(bs);
    BlockPool pool(cfg, 200, bs);
    PrefixCache cache(pool);
    const llm::PagedGeneration ga = paged_generate(model, pool, a, {.max_new_tokens = 4, .prefix_cache = &cache});
    CHECK_MESSAGE(ga.computed_prompt_tokens == 112, "the first prompt finds nothing cached and computes all 112 tokens");
    const llm::PagedGeneration gb = paged_generate(model, pool, b, {.max_new_tokens = 4, .prefix_cache = &cache});
    CHECK_MESSAGE(gb.cached_prompt_tokens == 100 / bs * bs, "the second prompt reuses floor(100 / BS) blocks of the first");
    CHECK_MESSAGE(gb.computed_prompt_tokens == 112 - 100 / bs * bs, "and runs only the rest of its prompt through the model");
    CHECK_MESSAGE(gb.tokens == b_alone, "sharing cached blocks must not change a single generated token");
    CHECK_MESSAGE(ga.tokens == a_alone, "and the first prompt generates what lesson 04's generate() does");
    CHECK_MESSAGE(pool.num_free() == 200, "both generations released their blocks (cached ones stay findable, but free)");
  }
}

TEST_CASE("step 7: the cached blocks are really read and not recomputed") {
  // Spoil the keys of a cached block: a generation that shares the prefix must then change (it reads
  // them), which proves the prefix was not silently run through the model again.
  const ModelConfig cfg = lesson06_test::varied_config();
  const llm::CausalLM model(cfg, 42);
  const Ids prompt = prompt_ids(40, cfg.vocab_size, 31);
  BlockPool pool(cfg, 32, 8);
  PrefixCache cache(pool);
  const llm::PagedGeneration first = paged_generate(model, pool, prompt, {.max_new_tokens = 6, .prefix_cache = &cache});
  BlockTable holder(pool);
  REQUIRE(cache.attach(holder, prompt) == 32);
  for (Index l = 0; l < cfg.num_hidden_layers; ++l)
    for (Index g = 0; g < cfg.num_key_value_heads; ++g) {
      float* keys = pool.keys(l, holder.blocks()[1], g);
      for (Index i = 0; i < cfg.head_dim() * 8; ++i) keys[i] = -keys[i] * 3.0f;
    }
  const llm::PagedGeneration second = paged_generate(model, pool, prompt, {.max_new_tokens = 6, .prefix_cache = &cache});
  CHECK_MESSAGE(second.cached_prompt_tokens == 32, "the second run finds 32 cached tokens");
  CHECK_MESSAGE(second.tokens != first.tokens,
                "with spoiled cached keys the output must change: a prefix counted as cached must be read from the "
                "cache, not recomputed");
}

TEST_CASE("step 7: chunked prefill generates the same tokens as a one-shot prefill") {
  const ModelConfig cfg = lesson06_test::varied_config();
  const llm::CausalLM model(cfg, 42);
  const Ids prompt = prompt_ids(27, cfg.vocab_size, 41);
  BlockPool pool(cfg, 32, 16);
  const Ids one_shot = paged_generate(model, pool, prompt, {.max_new_tokens = 8}).tokens;
  for (Index chunk : {1, 7}) {
    CAPTURE(chunk);
    const llm::PagedGeneration g = paged_generate(model, pool, prompt, {.max_new_tokens = 8, .prefill_chunk = chunk});
    CHECK_MESSAGE(g.tokens == one_shot, "prefill_chunk splits the prompt into several forwards without changing a token");
    CHECK(g.computed_prompt_tokens == 27);
  }
}

TEST_CASE("step 7: eos ends the generation with the eos token kept") {
  const ModelConfig cfg = lesson06_test::varied_config();
  const llm::CausalLM model(cfg, 42);
  const Ids prompt = prompt_ids(6, cfg.vocab_size, 51);
  BlockPool pool(cfg, 32, 4);
  const Ids free_run = paged_generate(model, pool, prompt, {.max_new_tokens = 20}).tokens;
  const std::int32_t eos = free_run[10];  // the 5th generated token
  const size_t first_eos = static_cast<size_t>(std::find(free_run.begin() + 6, free_run.end(), eos) - free_run.begin());
  const Ids stopped = paged_generate(model, pool, prompt, {.max_new_tokens = 20, .eos_token_id = eos}).tokens;
  CHECK_MESSAGE(stopped == Ids(free_run.begin(), free_run.begin() + static_cast<std::ptrdiff_t>(first_eos) + 1),
                "generation stops right after the first eos, which is kept");
  CHECK(stopped == lesson06_test::contiguous_greedy(model, prompt, 20, eos));
  CHECK(pool_is_empty(pool));
}

TEST_CASE("step 7: pool exhaustion in the middle of a generation throws OutOfBlocks and leaks nothing") {
  const ModelConfig cfg = lesson06_test::varied_config();
  const llm::CausalLM model(cfg, 42);
  const Ids prompt = prompt_ids(6, cfg.vocab_size, 61);
  BlockPool pool(cfg, 4, 4);  // 16 positions: the 17th has no block
  const Ids short_run = paged_generate(model, pool, prompt, {.max_new_tokens = 5}).tokens;
  REQUIRE(short_run.size() == 11u);
  error_message<OutOfBlocks>([&] { paged_generate(model, pool, prompt, {.max_new_tokens = 30}); });
  REQUIRE_MESSAGE(pool_is_empty(pool), "the failed generation released every block it held: the pool is as it was");
  // With a prefix cache and another sequence holding blocks: the free count is what it was.
  PrefixCache cache(pool);
  BlockTable other(pool);
  other.append(3);
  const Index free_before = pool.num_free();
  error_message<OutOfBlocks>([&] { paged_generate(model, pool, prompt, {.max_new_tokens = 30, .prefix_cache = &cache}); });
  CHECK_MESSAGE(pool.num_free() == free_before, "nothing leaked next to a sequence that keeps its blocks");
  CHECK(other.num_blocks() == 1);
  const llm::PagedGeneration again = paged_generate(model, pool, prompt, {.max_new_tokens = 5, .prefix_cache = &cache});
  CHECK_MESSAGE(again.tokens == short_run, "the pool still works afterwards, with the blocks the failed run published");
}

TEST_CASE("step 7: invalid generate inputs are InvalidArgument naming the value and change nothing") {
  const ModelConfig cfg = lesson06_test::varied_config();
  const llm::CausalLM model(cfg, 42);
  BlockPool pool(cfg, 8, 4);
  const Ids prompt = {5, 6, 7};
  REQUIRE(paged_generate(model, pool, prompt, {.max_new_tokens = 2}).tokens.size() == 5u);
  CHECK_MESSAGE(paged_generate(model, pool, prompt, {.max_new_tokens = 0}).tokens == prompt,
                "max_new_tokens 0 returns the prompt");
  std::string msg = error_message<InvalidArgument>([&] { paged_generate(model, pool, Ids{}, {}); });
  REQUIRE_MESSAGE(contains(msg, "empty"), "an empty prompt: " << msg);
  msg = error_message<InvalidArgument>([&] { paged_generate(model, pool, prompt, {.max_new_tokens = -1}); });
  REQUIRE_MESSAGE(contains(msg, "-1"), "a negative max_new_tokens: " << msg);
  msg = error_message<InvalidArgument>([&] { paged_generate(model, pool, prompt, {.max_new_tokens = 254}); });
  REQUIRE_MESSAGE((contains(msg, "257") && contains(msg, "256")), "prompt + max_new_tokens beyond the context: " << msg);
  msg = error_message<InvalidArgument>([&] { paged_generate(model, pool, prompt, {.prefill_chunk = -2}); });
  REQUIRE_MESSAGE(contains(msg, "-2"), "a negative prefill_chunk: " << msg);
  BlockPool other(cfg, 8, 4);
  PrefixCache foreign(other);
  msg = error_message<InvalidArgument>([&] { paged_generate(model, pool, prompt, {.prefix_cache = &foreign}); });
  REQUIRE_MESSAGE(contains(msg, "another block pool"), "a prefix cache over another pool: " << msg);
  CHECK_MESSAGE(pool_is_empty(pool), "refused generations take no block");
}

// ================================================================================================
// stories260K: the real model on the paged cache against lesson 04's contiguous cache
// ================================================================================================

namespace {

struct StoriesCase {
  Ids prompt;
  int new_tokens;
  Index block_size;
};

// Greedy generation of stories260K on a paged cache of `block_size` against lesson 04's generate().
void check_stories(const llm::CausalLM& model, const ModelConfig& config, const StoriesCase& c) {
  CAPTURE(c.prompt.size());
  CAPTURE(c.block_size);
  BlockPool pool(config, blocks_for(512, c.block_size), c.block_size);
  const llm::PagedGeneration paged = paged_generate(model, pool, c.prompt, {.max_new_tokens = c.new_tokens});
  const Ids contiguous = lesson06_test::contiguous_greedy(model, c.prompt, c.new_tokens);
  REQUIRE(paged.tokens.size() == contiguous.size());
  size_t first_diff = 0;
  while (first_diff < contiguous.size() && paged.tokens[first_diff] == contiguous[first_diff]) ++first_diff;
  CHECK_MESSAGE(first_diff == contiguous.size(), "stories260K on the paged cache must write lesson 04's text token for "
                                                 "token; first difference at position "
                                                     << first_diff);
  CHECK_MESSAGE(pool_is_empty(pool), "the generation gave every block back");
}

}  // namespace

TEST_CASE("stories260K: greedy paged generation from BOS fills the 512-position context like lesson 04" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const llm::CausalLM model = llm::CausalLM::from_checkpoint(ckpt);
  check_stories(model, ckpt.config, {{llm::Tokenizer::kBos}, 511, 16});  // BOS + 511 = the whole context
}

TEST_CASE("stories260K: greedy paged generation equals lesson 04 on two prompts with block sizes 1 and 3" * doctest::test_suite(llm::testing::kModelSuite)) {
  auto files = llm::testing::model_or_skip();
  if (!files) return;
  const llm::Checkpoint ckpt = llm::load_checkpoint(files->checkpoint);
  const llm::Tokenizer tok = llm::Tokenizer::load(files->tokenizer, ckpt.config.vocab_size);
  const llm::CausalLM model = llm::CausalLM::from_checkpoint(ckpt);
  check_stories(model, ckpt.config, {tok.encode("Once upon a time", true), 60, 1});
  check_stories(model, ckpt.config, {tok.encode("The little dog ran to the park and saw a big red ball.", true), 40, 3});
}
