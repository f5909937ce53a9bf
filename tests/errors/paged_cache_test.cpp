// paged_cache_test.cpp — the rows of docs/errors.md's "paged KV cache" table, one test case per row, in
// the table's order and under the row's name: the block pool, block tables, paged attention, the prefix
// cache and generation on them (lesson 06's reference). Each case checks the exception TYPE and that
// what() names the offending value and the limit. LLM_SHOW_ERRORS=1 prints every message checked.
//
// Legend: BS block_size, NB num_blocks, N a table's length, V vocab.
#include <doctest/doctest.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "block_pool.h"
#include "block_table.h"
#include "causal_lm.h"
#include "expect_message.h"
#include "llm/config.h"
#include "llm/errors.h"
#include "paged_attention.h"
#include "paged_model.h"
#include "prefix_cache.h"
#include "test_support.h"

using llm::BlockPool;
using llm::BlockTable;
using llm::Index;
using llm::InvalidArgument;
using llm::ModelConfig;
using llm::OutOfBlocks;
using llm::Shape;
using llm::Tensor;
using Ids = std::vector<std::int32_t>;
using llm::testing::expect_message;

TEST_CASE("paged pool size out of range") {
  const ModelConfig cfg = ModelConfig::tiny();
  expect_message<InvalidArgument>([&] { BlockPool(cfg, 8, 0); }, {"block_size = 0", "[1, 4096]"});
  expect_message<InvalidArgument>([&] { BlockPool(cfg, 8, 4097); }, {"block_size = 4097", "[1, 4096]"});
  expect_message<InvalidArgument>([&] { BlockPool(cfg, 0, 16); }, {"num_blocks = 0", "[1, 16777216]"});
  expect_message<InvalidArgument>([&] { BlockPool(cfg, -5, 16); }, {"num_blocks = -5"});
  expect_message<InvalidArgument>(
      [&] { BlockPool(cfg, Index{1} << 24, 4096); },
      {"16777216 blocks x block_size 4096", "more than the limit of 4294967296 bytes"});
}

TEST_CASE("paged block id outside the pool") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  expect_message<InvalidArgument>([&] { pool.release(-1); }, {"block -1", "[0, 8)"});
  expect_message<InvalidArgument>([&] { pool.retain(8); }, {"block 8", "[0, 8)"});
  expect_message<InvalidArgument>([&] { (void)pool.ref_count(8); }, {"block 8", "[0, 8)"});
  expect_message<InvalidArgument>([&] { (void)pool.keys(0, 9, 0); }, {"block 9", "[0, 8)"});
  const llm::BlockId id = pool.allocate();
  expect_message<InvalidArgument>([&] { (void)pool.keys(2, id, 0); }, {"layer 2", "[0, 2)"});
  expect_message<InvalidArgument>([&] { (void)pool.values(0, id, 2); }, {"KV head 2", "[0, 2)"});
}

TEST_CASE("paged double free") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  for (int i = 0; i < 4; ++i) pool.allocate();
  pool.release(3);
  expect_message<InvalidArgument>([&] { pool.release(3); }, {"block 3", "already free", "double free"});
  CHECK_MESSAGE(pool.num_free() == 5, "a refused release changes nothing");
}

TEST_CASE("paged use after free") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  for (int i = 0; i < 4; ++i) pool.allocate();
  pool.release(3);
  expect_message<InvalidArgument>([&] { pool.retain(3); }, {"block 3", "use after free"});
  expect_message<InvalidArgument>([&] { (void)pool.keys(0, 3, 0); }, {"block 3", "use after free"});
  expect_message<InvalidArgument>([&] { pool.set_block_hash(3, 42); }, {"block 3", "free"});
  BlockTable table(pool);
  table.append(2);
  table.release();
  expect_message<InvalidArgument>([&] { (void)table.slot(0); }, {"position 0", "[0, 0)"});
}

TEST_CASE("paged pool exhausted") {
  BlockPool pool(ModelConfig::tiny(), 2, 4);
  BlockTable table(pool);
  expect_message<OutOfBlocks>([&] { table.append(9); }, {"9 positions", "needs 3 blocks", "2 free of 2"});
  CHECK_MESSAGE((table.length() == 0 && pool.num_free() == 2), "a refused append changes nothing");
  table.append(8);
  expect_message<OutOfBlocks>([&] { pool.allocate(); }, {"all 2 blocks are in use"});
  BlockTable child = table.fork();
  table.crop(7);
  child.crop(7);  // both share a partial block now, and the pool is full: the copy has nowhere to go
  expect_message<OutOfBlocks>([&] { child.append(1); }, {"needs 1 blocks", "0 free of 2"});
}

TEST_CASE("paged position outside the table") {
  ModelConfig cfg = ModelConfig::tiny();  // 4 heads, 2 KV heads, D 8
  BlockPool pool(cfg, 4, 4);
  BlockTable table(pool);
  table.append(6);
  expect_message<InvalidArgument>([&] { (void)table.slot(6); }, {"position 6", "[0, 6)"});
  expect_message<InvalidArgument>([&] { (void)table.slot(-1); }, {"position -1"});
  const Tensor kv = llm::testing::seeded(Shape{3, 16}, 1);
  expect_message<InvalidArgument>([&] { llm::store_kv(table, 0, 4, kv, kv); }, {"[4, 7)", "[0, 6)"});
  expect_message<InvalidArgument>(
      [&] {
        (void)llm::paged_attention(table, 0, -1, llm::testing::seeded(Shape{1, 32}, 2));
      },
      {"[-1, 0)"});
  expect_message<InvalidArgument>([&] { llm::store_kv(table, 2, 0, kv, kv); }, {"layer 2", "[0, 2)"});
  expect_message<llm::ShapeError>(
      [&] {
        llm::store_kv(table, 0, 0, llm::testing::seeded(Shape{3, 8}, 3), kv);
      },
      {"(3, 8)", "(T, 16)"});
  expect_message<llm::ShapeError>(
      [&] {
        (void)llm::paged_attention(table, 0, 0, llm::testing::seeded(Shape{1, 12}, 4));
      },
      {"(1, 12)", "D = 8"});
  expect_message<InvalidArgument>([&] { table.crop(7); }, {"crop to 7", "holds 6"});
  expect_message<InvalidArgument>([&] { (void)table.blocks_needed(-2); }, {"n = -2"});
}

TEST_CASE("paged prefix cache misuse") {
  BlockPool pool(ModelConfig::tiny(), 8, 4);
  BlockPool other(ModelConfig::tiny(), 8, 4);
  llm::PrefixCache cache(pool);
  BlockTable table(pool), foreign(other);
  table.append(5);
  const Ids tokens = {1, 2, 3, 4, 5, 6};
  expect_message<InvalidArgument>([&] { cache.attach(table, tokens); },
                                  {"already holds 5 positions", "empty"});
  expect_message<InvalidArgument>([&] { cache.attach(foreign, tokens); }, {"another block pool"});
  expect_message<InvalidArgument>([&] { cache.publish(table, Ids{1, 2}); }, {"2 tokens", "5 positions"});
  expect_message<InvalidArgument>([&] { table.append_cached_block(0); }, {"length 5", "block_size 4"});
}

TEST_CASE("paged forward tokens or pool that do not fit the model") {
  const ModelConfig cfg = ModelConfig::tiny();  // V 64, 64 positions
  const llm::CausalLM model(cfg, 1);
  BlockPool pool(cfg, 20, 4);
  BlockTable table(pool);
  expect_message<InvalidArgument>(
      [&] {
        llm::paged_forward(model, table, Ids{3, 64});
      },
      {"token id 64", "index 1", "[0, 64)"});
  expect_message<InvalidArgument>([&] { llm::paged_forward(model, table, Ids{}); }, {"tokens is empty"});
  expect_message<InvalidArgument>([&] { llm::paged_forward(model, table, Ids(65, 3)); },
                                  {"sequence length 65", "max_position_embeddings = 64"});
  ModelConfig wide = cfg;
  wide.num_key_value_heads = 4;
  BlockPool wrong(wide, 4, 4);
  BlockTable wrong_table(wrong);
  expect_message<InvalidArgument>([&] { llm::paged_forward(model, wrong_table, Ids{3}); },
                                  {"4 KV heads", "2 KV heads", "another model"});
  CHECK_MESSAGE((table.length() == 0 && pool.num_free() == 20), "refused forwards take no slot");
}

TEST_CASE("paged generate options out of range") {
  const ModelConfig cfg = ModelConfig::tiny();
  const llm::CausalLM model(cfg, 1);
  BlockPool pool(cfg, 20, 4), other(cfg, 4, 4);
  llm::PrefixCache foreign(other);
  const Ids prompt = {1, 2, 3};
  expect_message<InvalidArgument>([&] { llm::paged_generate(model, pool, prompt, {.max_new_tokens = -1}); },
                                  {"max_new_tokens = -1", ">= 0"});
  expect_message<InvalidArgument>([&] { llm::paged_generate(model, pool, prompt, {.max_new_tokens = 62}); },
                                  {"3 tokens + max_new_tokens 62 = 65", "max_position_embeddings = 64"});
  expect_message<InvalidArgument>([&] { llm::paged_generate(model, pool, prompt, {.eos_token_id = 64}); },
                                  {"eos_token_id = 64", "[0, 64)"});
  expect_message<InvalidArgument>([&] { llm::paged_generate(model, pool, prompt, {.prefill_chunk = -1}); },
                                  {"prefill_chunk = -1", ">= 0"});
  expect_message<InvalidArgument>(
      [&] { llm::paged_generate(model, pool, prompt, {.prefix_cache = &foreign}); }, {"another block pool"});
  expect_message<InvalidArgument>([&] { llm::paged_generate(model, pool, Ids{}, {}); }, {"prompt is empty"});
  CHECK_MESSAGE(pool.num_free() == 20, "refused generations take no block");
}

TEST_CASE("paged generation that runs out of blocks") {
  ModelConfig cfg = ModelConfig::tiny();
  cfg.tie_word_embeddings = false;
  const llm::CausalLM model(cfg, 1);
  BlockPool pool(cfg, 3, 4);  // 12 positions
  expect_message<OutOfBlocks>(
      [&] {
        llm::paged_generate(model, pool, Ids{1, 2, 3}, {.max_new_tokens = 20});
      },
      {"needs 1 blocks", "0 free of 3"});
  CHECK_MESSAGE(pool.num_free() == 3, "the failed generation released its blocks: nothing leaked");
}
