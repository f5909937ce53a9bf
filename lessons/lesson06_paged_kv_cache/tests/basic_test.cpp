// basic_test.cpp — lesson 06's basic suite: small hand-checked cases for each step — the pool's free
// list and ref counts (1), the block table's growth and slot map (2), writing and reading through the
// table (3), block hashes and prefix sharing (4), fork and copy-on-write (5), the model's forward pass on
// the paged cache (6) and greedy generation on it (7).
// Not here: many block sizes and configs, random mixes, the real stories260K model, exhaustion in the
// middle of a generation, the benchmarks' request mixes — those are in advanced_test.cpp.
//
// Legend: T new tokens, N positions in a table, H query heads, KV key/value heads, D head_dim,
// BS block_size, NB num_blocks.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "block_pool.h"
#include "block_table.h"
#include "causal_lm.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "llm/tensor.h"
#include "paged_attention.h"
#include "paged_model.h"
#include "prefix_cache.h"
#include "test_paged.h"
#include "test_support.h"

using llm::BlockId;
using llm::BlockPool;
using llm::BlockTable;
using llm::Index;
using llm::InvalidArgument;
using llm::ModelConfig;
using llm::OutOfBlocks;
using llm::Shape;
using llm::Tensor;

namespace {

using lesson06_test::Ids;
using llm::testing::contains;
using llm::testing::error_message;

// ceil(n / bs): the blocks a sequence of n positions fills.
Index blocks_for(Index n, Index bs) { return (n + bs - 1) / bs; }

}  // namespace

// ------------------------------------------------------------------------------------------------
// Step 1: the allocator
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 1: a new pool hands out its blocks in id order with ref count 1") {
  BlockPool pool(ModelConfig::tiny(), /*num_blocks=*/4, /*block_size=*/2);
  REQUIRE(pool.num_free() == 4);
  for (BlockId expected = 0; expected < 4; ++expected) {
    CAPTURE(expected);
    const BlockId id = pool.allocate();
    CHECK_MESSAGE(id == expected, "allocate takes the FRONT of the free list: a new pool hands out 0, 1, 2, 3");
    CHECK_MESSAGE(pool.ref_count(id) == 1, "an allocated block has exactly one owner: ref count 1");
  }
  CHECK_MESSAGE(pool.num_free() == 0, "allocate must take the block out of the free list");
  CHECK(pool.num_used() == 4);
}

TEST_CASE("step 1: the block freed longest ago is the first one handed out again") {
  BlockPool pool(ModelConfig::tiny(), 4, 2);
  for (int i = 0; i < 4; ++i) pool.allocate();
  pool.release(2);
  pool.release(0);
  CHECK_MESSAGE(pool.num_free() == 2, "a released block with ref count 0 goes back to the free list");
  CHECK_MESSAGE(pool.allocate() == 2,
                "release pushes to the BACK of the free list and allocate pops the FRONT: 2 was freed first");
  CHECK(pool.allocate() == 0);
}

TEST_CASE("step 1: a shared block goes back to the pool only with its last owner") {
  BlockPool pool(ModelConfig::tiny(), 3, 2);
  const BlockId a = pool.allocate();
  pool.retain(a);
  CHECK_MESSAGE(pool.ref_count(a) == 2, "retain adds one owner");
  pool.release(a);
  CHECK_MESSAGE(pool.ref_count(a) == 1, "release removes one owner");
  CHECK_MESSAGE(pool.num_free() == 2, "a block with an owner left is still in use, not free");
  pool.release(a);
  CHECK(pool.ref_count(a) == 0);
  CHECK_MESSAGE(pool.num_free() == 3, "the last release frees the block");
}

TEST_CASE("step 1: an exhausted pool throws OutOfBlocks and stays as it was") {
  BlockPool pool(ModelConfig::tiny(), 3, 2);
  for (int i = 0; i < 3; ++i) pool.allocate();
  const std::string msg = error_message<OutOfBlocks>([&] { pool.allocate(); });
  CHECK_MESSAGE(contains(msg, "3"), "the message names the pool size (3 blocks): " << msg);
  CHECK_MESSAGE(pool.num_free() == 0, "a refused allocate changes nothing");
  for (BlockId id = 0; id < 3; ++id) CHECK(pool.ref_count(id) == 1);
}

TEST_CASE("step 1: double free and retaining a free block are InvalidArgument naming the block") {
  BlockPool pool(ModelConfig::tiny(), 12, 2);
  for (int i = 0; i < 12; ++i) pool.allocate();
  pool.release(11);
  std::string msg = error_message<InvalidArgument>([&] { pool.release(11); });
  CHECK_MESSAGE(contains(msg, "11"), "a double free names the block (11): " << msg);
  msg = error_message<InvalidArgument>([&] { pool.retain(11); });
  CHECK_MESSAGE(contains(msg, "11"), "retaining a free block (a use after free) names the block: " << msg);
  msg = error_message<InvalidArgument>([&] { pool.release(12); });
  CHECK_MESSAGE(contains(msg, "12"), "an id outside [0, 12) names the id: " << msg);
  CHECK_MESSAGE(pool.num_free() == 1, "refused calls change nothing: block 11 is free once, not twice");
}

// ------------------------------------------------------------------------------------------------
// Step 2: the block table
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 2: append grows the table by one block every block_size positions") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  BlockTable table(pool);
  for (Index n = 1; n <= 9; ++n) {
    CAPTURE(n);
    table.append(1);
    CHECK_MESSAGE(table.length() == n, "append(1) adds one position");
    CHECK_MESSAGE(table.num_blocks() == blocks_for(n, 4),
                  "a table of n positions holds ceil(n / block_size) blocks: a new one only when the last is full");
    CHECK_MESSAGE(pool.num_used() == blocks_for(n, 4), "every block of the table comes from the pool");
  }
  table.append(7);
  CHECK_MESSAGE(table.num_blocks() == 4, "append(7) on 9 positions: 16 positions fill exactly 4 blocks");
}

TEST_CASE("step 2: slot maps position p to logical block p / block_size at offset p % block_size") {
  BlockPool pool(ModelConfig::tiny(), 10, 3);
  // Scramble the free list: the table's blocks are then 7, 2, 5 — not 0, 1, 2.
  std::vector<BlockId> all;
  for (int i = 0; i < 10; ++i) all.push_back(pool.allocate());
  for (BlockId id : {7, 2, 5, 0, 1, 3, 4, 6, 8, 9}) pool.release(id);
  BlockTable table(pool);
  table.append(8);
  REQUIRE_MESSAGE(table.blocks() == std::vector<BlockId>({7, 2, 5}),
                  "append takes its blocks from allocate(), in the order the free list gives them");
  for (Index p = 0; p < 8; ++p) {
    CAPTURE(p);
    const llm::Slot s = table.slot(p);
    CHECK_MESSAGE(s.block == table.blocks()[static_cast<size_t>(p / 3)],
                  "position p lives in the PHYSICAL block blocks()[p / block_size], not in block p / block_size");
    CHECK_MESSAGE(s.offset == p % 3, "the offset inside the block is p % block_size");
  }
}

TEST_CASE("step 2: release returns every block and empties the table") {
  BlockPool pool(ModelConfig::tiny(), 5, 4);
  BlockTable table(pool);
  table.append(10);
  REQUIRE(pool.num_used() == 3);
  table.release();
  CHECK_MESSAGE(table.length() == 0, "a released table is empty");
  CHECK_MESSAGE(table.num_blocks() == 0, "a released table holds no block");
  CHECK_MESSAGE(pool.num_free() == 5, "freeing a table returns all its blocks to the pool");
  table.release();  // nothing left: no double free
  CHECK(pool.num_free() == 5);
  table.append(1);
  CHECK_MESSAGE(table.num_blocks() == 1, "a released table can grow again");
}

TEST_CASE("step 2: blocks_needed counts the blocks an append would take") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  BlockTable table(pool);
  CHECK_MESSAGE(table.blocks_needed(0) == 0, "nothing to add, nothing needed");
  CHECK_MESSAGE(table.blocks_needed(1) == 1, "the first position needs a block");
  CHECK_MESSAGE(table.blocks_needed(4) == 1, "4 positions fit in one block of 4");
  CHECK_MESSAGE(table.blocks_needed(5) == 2, "5 positions need ceil(5 / 4) = 2 blocks");
  table.append(3);
  CHECK_MESSAGE(table.blocks_needed(1) == 0, "3 of 4 positions used: one more fits in the last block");
  CHECK_MESSAGE(table.blocks_needed(2) == 1, "3 + 2 = 5 positions: one block more");
}

TEST_CASE("step 2: an append the pool cannot hold throws OutOfBlocks and changes nothing") {
  BlockPool pool(ModelConfig::tiny(), 3, 4);
  BlockTable a(pool), b(pool);
  a.append(5);  // 2 blocks
  const std::string msg = error_message<OutOfBlocks>([&] { b.append(9); });  // needs 3, 1 free
  CHECK_MESSAGE((contains(msg, "3") && contains(msg, "1")), "the message names the blocks needed (3) and free (1): " << msg);
  CHECK_MESSAGE(b.length() == 0, "all or nothing: a refused append leaves the table as it was");
  CHECK_MESSAGE(b.num_blocks() == 0, "all or nothing: a refused append takes no block");
  CHECK_MESSAGE(pool.num_free() == 1, "all or nothing: the pool keeps its free block");
  b.append(4);
  CHECK(pool.num_free() == 0);
}

TEST_CASE("step 2: slot outside the table is InvalidArgument naming the position and the length") {
  BlockPool pool(ModelConfig::tiny(), 4, 4);
  BlockTable table(pool);
  table.append(5);
  std::string msg = error_message<InvalidArgument>([&] { (void)table.slot(7); });
  CHECK_MESSAGE((contains(msg, "7") && contains(msg, "5")), "names the position (7) and the length (5): " << msg);
  msg = error_message<InvalidArgument>([&] { (void)table.slot(-1); });
  CHECK_MESSAGE(contains(msg, "-1"), "a negative position is refused too: " << msg);
  msg = error_message<InvalidArgument>([&] { (void)table.slot(5); });
  CHECK_MESSAGE(contains(msg, "5"), "position N (5) has no slot: valid positions are 0 .. N-1: " << msg);
}

// ------------------------------------------------------------------------------------------------
// Step 3: writing and reading through the table
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 3: store_kv writes each key and value into its slot with keys transposed") {
  const ModelConfig cfg = lesson06_test::heads_config(4, 2);  // KV 2, D 8
  BlockPool pool(cfg, 6, 3);
  BlockTable table(pool);
  table.append(5);
  const Index D = 8;
  const Tensor k = llm::testing::seeded(Shape{5, 2 * D}, 1), v = llm::testing::seeded(Shape{5, 2 * D}, 2);
  store_kv(table, /*layer=*/1, /*first=*/0, k, v);
  for (Index p = 0; p < 5; ++p)
    for (Index g = 0; g < 2; ++g) {
      CAPTURE(p);
      CAPTURE(g);
      const llm::Slot s = table.slot(p);
      bool keys_ok = true, values_ok = true, layer0_empty = true;
      for (Index d = 0; d < D; ++d) {
        keys_ok = keys_ok && pool.keys(1, s.block, g)[d * 3 + s.offset] == k(p, g * D + d);
        values_ok = values_ok && pool.values(1, s.block, g)[s.offset * D + d] == v(p, g * D + d);
        layer0_empty = layer0_empty && pool.keys(0, s.block, g)[d * 3 + s.offset] == 0.0f;
      }
      CHECK_MESSAGE(keys_ok, "key dim d of position p goes to row d, column p % BS of its block's (D, BS) keys, "
                             "KV head g from columns [g*D, (g+1)*D) of k");
      CHECK_MESSAGE(values_ok, "value of position p goes to row p % BS of its block's (BS, D) values");
      CHECK_MESSAGE(layer0_empty, "store_kv writes only the layer it is given");
    }
}

TEST_CASE("step 3: a decode step over two positions gives the softmax worked by hand") {
  // One head of D 8. Scores: q . k0 / sqrt(8) = 0 and q . k1 / sqrt(8) = ln 3, so the weights are 1/4 and
  // 3/4; the values (4, 0, ...) and (0, 8, ...) give (1, 6, 0, ...).
  const ModelConfig cfg = lesson06_test::heads_config(1, 1);
  BlockPool pool(cfg, 4, 1);  // block size 1: every position in its own block
  BlockTable table(pool);
  table.append(2);
  Tensor k(Shape{2, 8}), v(Shape{2, 8}), q(Shape{1, 8});
  k(1, 0) = 1.0f;
  v(0, 0) = 4.0f;
  v(1, 1) = 8.0f;
  q(0, 0) = std::sqrt(8.0f) * std::log(3.0f);
  store_kv(table, 0, 0, k, v);
  const Tensor out = paged_attention(table, 0, /*first=*/1, q);
  REQUIRE_MESSAGE(out.shape() == Shape({1, 8}), "paged_attention returns (T, H*D)");
  CHECK_MESSAGE(out(0, 0) == doctest::Approx(1.0f).epsilon(1e-5), "weights softmax(0, ln 3) = (1/4, 3/4): 4/4 = 1");
  CHECK_MESSAGE(out(0, 1) == doctest::Approx(6.0f).epsilon(1e-5), "weights softmax(0, ln 3) = (1/4, 3/4): 8 x 3/4 = 6");
  CHECK_MESSAGE(std::fabs(out(0, 2)) < 1e-6f, "the other dimensions stay 0");
}

TEST_CASE("step 3: paged attention of a prefill chunk equals contiguous attention with GQA and block size 3") {
  const ModelConfig cfg = lesson06_test::heads_config(4, 2);  // H 4, KV 2, D 8
  BlockPool pool(cfg, 8, 3);
  BlockTable table(pool);
  table.append(7);  // ends mid-block: 3 + 3 + 1
  const Tensor k = llm::testing::seeded(Shape{7, 16}, 3), v = llm::testing::seeded(Shape{7, 16}, 4);
  const Tensor q = llm::testing::seeded(Shape{7, 32}, 5);
  store_kv(table, 0, 0, k, v);
  const Tensor paged = paged_attention(table, 0, 0, q);
  const Tensor expected = lesson06_test::contiguous_attention(q, k, v, 2);
  CHECK_MESSAGE(llm::testing::max_diff(paged, expected) <= 1e-5f,
                "paged attention must equal lesson 02's attention with a causal mask: query head h reads KV head "
                "h / G, query t sees positions 0 .. t only");
}

// ------------------------------------------------------------------------------------------------
// Step 4: prefix caching
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 4: the block hash depends on the parent and on every token in order") {
  const Ids block = {1, 2, 3, 4};
  const llm::BlockHash h = llm::hash_block(llm::kRootBlockHash, block);
  CHECK_MESSAGE(h == llm::hash_block(llm::kRootBlockHash, block), "the same parent and tokens give the same hash");
  CHECK_MESSAGE(h != llm::hash_block(h, block), "the same tokens after another prefix (parent) get another hash");
  CHECK_MESSAGE(h != llm::hash_block(llm::kRootBlockHash, Ids({1, 2, 3, 5})), "changing one token changes the hash");
  CHECK_MESSAGE(h != llm::hash_block(llm::kRootBlockHash, Ids({2, 1, 3, 4})),
                "the same tokens in another order are another block: a sum or an XOR is not enough");
}

TEST_CASE("step 4: a published prefix is matched in whole blocks and never includes the last token") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  llm::PrefixCache cache(pool);
  const Ids tokens = lesson06_test::prompt_ids(10, 64);
  BlockTable table(pool);
  table.append(10);
  cache.publish(table, tokens);  // blocks 0 and 1 are full; block 2 holds 2 of 4
  const std::span<const std::int32_t> all(tokens);
  CHECK_MESSAGE(cache.match(all) == 8, "10 tokens: the two full blocks (8 tokens) are cached");
  CHECK_MESSAGE(cache.match(all.first(9)) == 8, "9 tokens: 8 cached, the 9th is computed");
  CHECK_MESSAGE(cache.match(all.first(8)) == 4,
                "8 tokens = exactly 2 blocks: only 4 count, the last token must run through the model for its logits");
  Ids changed = tokens;
  changed[5] += 1;
  CHECK_MESSAGE(cache.match(changed) == 4, "a token changed in block 1: only block 0 matches");
  CHECK_MESSAGE(cache.match(lesson06_test::prompt_ids(10, 64, 99)) == 0, "other tokens: nothing matches");
}

TEST_CASE("step 4: attach shares the matched blocks and raises their ref counts") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  llm::PrefixCache cache(pool);
  const Ids tokens = lesson06_test::prompt_ids(10, 64);
  BlockTable first(pool);
  first.append(10);
  cache.publish(first, tokens);
  BlockTable second(pool);
  const Index cached = cache.attach(second, tokens);
  CHECK_MESSAGE(cached == 8, "attach returns the cached tokens: 2 full blocks of 4");
  CHECK_MESSAGE(second.length() == 8, "the new table starts with the cached positions");
  REQUIRE(second.num_blocks() == 2);
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(second.blocks()[static_cast<size_t>(i)] == first.blocks()[static_cast<size_t>(i)],
                  "the cached prefix is shared: the same physical blocks, not copies");
    CHECK_MESSAGE(pool.ref_count(first.blocks()[static_cast<size_t>(i)]) == 2, "a shared block has two owners");
  }
  CHECK_MESSAGE(pool.num_used() == 3, "sharing takes no new block");
}

// ------------------------------------------------------------------------------------------------
// Step 5: fork with copy-on-write
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 5: fork shares every block and raises each ref count") {
  BlockPool pool(ModelConfig::tiny(), 6, 4);
  BlockTable parent(pool);
  parent.append(6);
  const BlockTable child = parent.fork();
  CHECK_MESSAGE(child.length() == 6, "a fork has the parent's length");
  CHECK_MESSAGE(child.blocks() == parent.blocks(), "a fork shares the parent's blocks: no copy yet");
  for (BlockId id : parent.blocks()) CHECK_MESSAGE(pool.ref_count(id) == 2, "every shared block has two owners");
  CHECK_MESSAGE(pool.num_used() == 2, "forking takes no block from the pool");
}

TEST_CASE("step 5: the first append after a fork copies the shared partial block") {
  const ModelConfig cfg = lesson06_test::heads_config(2, 1);  // KV 1, D 8
  BlockPool pool(cfg, 6, 4);
  BlockTable parent(pool);
  parent.append(6);  // block 0 full, block 1 holds positions 4 and 5
  store_kv(parent, 0, 0, llm::testing::seeded(Shape{6, 8}, 1), llm::testing::seeded(Shape{6, 8}, 2));
  BlockTable child = parent.fork();
  const BlockId shared_tail = parent.blocks()[1];
  child.append(1);
  REQUIRE(child.num_blocks() == 2);
  CHECK_MESSAGE(child.blocks()[0] == parent.blocks()[0], "a full block is never written again: it stays shared");
  CHECK_MESSAGE(child.blocks()[1] != shared_tail, "writing into a shared partial block needs a private copy first");
  CHECK_MESSAGE(pool.ref_count(shared_tail) == 1, "the copy drops the child's reference to the shared block");
  CHECK_MESSAGE(pool.num_used() == 3, "copy-on-write takes exactly one block");
  child.crop(6);
  CHECK_MESSAGE(llm::testing::max_diff(lesson06_test::gather(child, 0, true), lesson06_test::gather(parent, 0, true)) == 0.0f,
                "the copy holds the keys already written (BlockPool::copy_block)");
  parent.append(1);
  CHECK_MESSAGE(parent.blocks()[1] == shared_tail, "a block with one owner left is written in place, not copied");
}

// ------------------------------------------------------------------------------------------------
// Step 6: the model on the paged cache
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 6: paged_forward of a prompt gives lesson 04's logits at every position") {
  const ModelConfig cfg = ModelConfig::lesson();
  const llm::CausalLM model(cfg, 42);
  const Ids prompt = lesson06_test::prompt_ids(9, cfg.vocab_size);
  BlockPool pool(cfg, 8, 4);
  BlockTable table(pool);
  const Tensor logits = paged_forward(model, table, prompt);
  REQUIRE_MESSAGE(logits.shape() == Shape({9, cfg.vocab_size}), "paged_forward returns (T, V) logits");
  const Tensor expected = model.forward(llm::make_ids({prompt})).logits;  // (1, 9, V)
  float worst = 0.0f;
  for (Index t = 0; t < 9; ++t)
    for (Index j = 0; j < cfg.vocab_size; ++j) worst = std::max(worst, std::fabs(logits(t, j) - expected(0, t, j)));
  CHECK_MESSAGE(worst <= 1e-4f, "the same weights on the paged cache must give lesson 04's logits (max |diff| " << worst
                                                                                                              << ")");
  CHECK_MESSAGE(table.length() == 9, "the table holds the prompt's 9 positions afterwards");
}

TEST_CASE("step 6: a decode step continues from the table's length") {
  const ModelConfig cfg = ModelConfig::lesson();
  const llm::CausalLM model(cfg, 42);
  const Ids prompt = lesson06_test::prompt_ids(7, cfg.vocab_size);
  BlockPool pool(cfg, 8, 4);
  BlockTable table(pool);
  paged_forward(model, table, std::span<const std::int32_t>(prompt).first(6));
  const Tensor step = paged_forward(model, table, std::span<const std::int32_t>(prompt).subspan(6));
  REQUIRE(step.shape() == Shape({1, cfg.vocab_size}));
  const Tensor expected = model.forward(llm::make_ids({prompt})).logits;  // (1, 7, V)
  float worst = 0.0f;
  for (Index j = 0; j < cfg.vocab_size; ++j) worst = std::max(worst, std::fabs(step(0, j) - expected(0, 6, j)));
  CHECK_MESSAGE(worst <= 1e-4f, "a decode step sits at position P = table.length(): RoPE and the causal reach must "
                                "continue from there (max |diff| "
                                    << worst << ")");
  CHECK(table.length() == 7);
}

// ------------------------------------------------------------------------------------------------
// Step 7: generation on the paged cache
// ------------------------------------------------------------------------------------------------

TEST_CASE("step 7: greedy paged generation equals lesson 04's generate on the random config") {
  const ModelConfig cfg = lesson06_test::varied_config();
  const llm::CausalLM model(cfg, 42);
  const Ids prompt = lesson06_test::prompt_ids(5, cfg.vocab_size);
  BlockPool pool(cfg, 16, 16);
  const llm::PagedGeneration gen = paged_generate(model, pool, prompt, {.max_new_tokens = 30});
  CHECK_MESSAGE(gen.tokens == lesson06_test::contiguous_greedy(model, prompt, 30),
                "the paged cache changes where K and V live, never which token greedy decoding picks");
  CHECK_MESSAGE(gen.computed_prompt_tokens == 5, "without a prefix cache every prompt token runs through the model");
}

TEST_CASE("step 7: generation gives every block back to the pool") {
  const ModelConfig cfg = lesson06_test::varied_config();
  const llm::CausalLM model(cfg, 42);
  BlockPool pool(cfg, 16, 4);
  const llm::PagedGeneration gen =
      paged_generate(model, pool, lesson06_test::prompt_ids(6, cfg.vocab_size), {.max_new_tokens = 20});
  CHECK(gen.tokens.size() == 26u);
  CHECK_MESSAGE(lesson06_test::pool_is_empty(pool), "a finished generation releases its table: every block free");
}
