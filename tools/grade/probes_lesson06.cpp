// probes_lesson06.cpp — `./llm compare lesson06`: the pool's allocation order and ref counts, the block
// table's growth and slots, store_kv and paged attention, block hashes (as properties: the values are the
// student's own), prefix matching and LRU eviction, fork and copy-on-write, the model's logits on the paged
// cache and a greedy generation with and without the prefix cache — each on fixed, seeded inputs.
// Not here: timing (./llm bench), the given parts (the pool's storage, crop, the input checks).
#include <string>
#include <vector>

#include "block_pool.h"
#include "block_table.h"
#include "causal_lm.h"
#include "grade/probes.h"
#include "paged_attention.h"
#include "paged_model.h"
#include "prefix_cache.h"

using namespace llm;
using namespace llm::dump;
using Ids = std::vector<std::int32_t>;

namespace {

// A config with H = 4 query heads over `kv` KV heads of D = 8, two layers (ModelConfig::tiny()'s sizes).
ModelConfig heads(int kv) {
  ModelConfig cfg = ModelConfig::tiny();
  cfg.num_key_value_heads = kv;
  return cfg;
}

// N ids in [1, vocab) from a fixed walk.
Ids walk(Index n, int vocab, int salt = 0) {
  Ids ids;
  for (Index i = 0; i < n; ++i) ids.push_back(static_cast<std::int32_t>(1 + (i * 37 + salt * 11 + 5) % (vocab - 1)));
  return ids;
}

// Keys (or values) of every position of `table` in layer `layer`, read slot by slot: (KV, N, D) in order.
ProbeResult read_back(const BlockTable& table, Index layer, bool keys) {
  const BlockPool& pool = table.pool();
  const Index KV = pool.num_kv_heads(), D = pool.head_dim(), BS = pool.block_size();
  ProbeResult r;
  for (Index g = 0; g < KV; ++g)
    for (Index p = 0; p < table.length(); ++p) {
      const Slot s = table.slot(p);
      for (Index d = 0; d < D; ++d)
        r.values.push_back(keys ? pool.keys(layer, s.block, g)[d * BS + s.offset] : pool.values(layer, s.block, g)[s.offset * D + d]);
    }
  return r;
}

}  // namespace

int main() {
  emit("{\"setup\":\"ModelConfig::tiny() shapes, seeded inputs, fixed token walks\"}");

  // Step 1 ------------------------------------------------------------------------------------------
  probe(1, "allocate the 4 blocks of a new pool: ids", [] {
    BlockPool pool(ModelConfig::tiny(), 4, 2);
    std::vector<int> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(pool.allocate());
    return integers(ids);
  });
  probe(1, "release 2 then 0, allocate twice: least recently freed first", [] {
    BlockPool pool(ModelConfig::tiny(), 4, 2);
    for (int i = 0; i < 4; ++i) pool.allocate();
    pool.release(2);
    pool.release(0);
    return integers(std::vector<int>{pool.allocate(), pool.allocate()});
  });
  probe(1, "ref and free counts: allocate, retain, release, release", [] {
    BlockPool pool(ModelConfig::tiny(), 3, 2);
    const BlockId a = pool.allocate();
    std::vector<Index> seen{pool.ref_count(a), pool.num_free()};
    pool.retain(a);
    seen.insert(seen.end(), {pool.ref_count(a), pool.num_free()});
    pool.release(a);
    seen.insert(seen.end(), {pool.ref_count(a), pool.num_free()});
    pool.release(a);
    seen.insert(seen.end(), {pool.ref_count(a), pool.num_free()});
    return integers(seen);
  });
  probe(1, "allocate from an exhausted pool of 2 blocks", [] {
    BlockPool pool(ModelConfig::tiny(), 2, 2);
    pool.allocate();
    pool.allocate();
    return integers(std::vector<int>{pool.allocate()});
  });
  probe(1, "release of a free block (double free)", [] {
    BlockPool pool(ModelConfig::tiny(), 2, 2);
    pool.release(pool.allocate());
    pool.release(0);
    return integers(std::vector<int>{pool.num_free() > 0});
  });

  // Step 2 ------------------------------------------------------------------------------------------
  probe(2, "blocks held after each of 9 appends of 1 (block size 4)", [] {
    BlockPool pool(ModelConfig::tiny(), 8, 4);
    BlockTable table(pool);
    std::vector<Index> blocks;
    for (int i = 0; i < 9; ++i) {
      table.append(1);
      blocks.push_back(table.num_blocks());
    }
    return integers(blocks);
  });
  probe(2, "slots of 8 positions over blocks 7 2 5 (block size 3)", [] {
    BlockPool pool(ModelConfig::tiny(), 10, 3);
    for (int i = 0; i < 10; ++i) pool.allocate();
    for (BlockId id : {7, 2, 5, 0, 1, 3, 4, 6, 8, 9}) pool.release(id);
    BlockTable table(pool);
    table.append(8);
    std::vector<Index> slots;
    for (Index p = 0; p < 8; ++p) slots.insert(slots.end(), {table.slot(p).block, table.slot(p).offset});
    return integers(slots);
  });
  probe(2, "blocks_needed(0 1 2 5 9) on 3 positions (block size 4)", [] {
    BlockPool pool(ModelConfig::tiny(), 8, 4);
    BlockTable table(pool);
    table.append(3);
    std::vector<Index> needed;
    for (Index n : {0, 1, 2, 5, 9}) needed.push_back(table.blocks_needed(n));
    return integers(needed);
  });
  probe(2, "free blocks: append 10 then release (5 blocks of 4)", [] {
    BlockPool pool(ModelConfig::tiny(), 5, 4);
    BlockTable table(pool);
    table.append(10);
    const Index during = pool.num_free();
    table.release();
    return integers(std::vector<Index>{during, pool.num_free(), table.length(), table.num_blocks()});
  });
  probe(2, "append 9 positions with 1 block of 4 free", [] {
    BlockPool pool(ModelConfig::tiny(), 3, 4);
    BlockTable a(pool), b(pool);
    a.append(5);
    b.append(9);
    return integers(std::vector<Index>{b.length()});
  });

  // Step 3 ------------------------------------------------------------------------------------------
  const ModelConfig gqa = heads(2);  // H 4, KV 2, D 8
  probe(3, "store_kv 7 positions (block size 3): keys read back", [&] {
    BlockPool pool(gqa, 8, 3);
    BlockTable table(pool);
    table.append(7);
    store_kv(table, 1, 0, seeded(Shape{7, 16}, 1), seeded(Shape{7, 16}, 2));
    return read_back(table, 1, true);
  });
  probe(3, "store_kv 7 positions (block size 3): values read back", [&] {
    BlockPool pool(gqa, 8, 3);
    BlockTable table(pool);
    table.append(7);
    store_kv(table, 1, 0, seeded(Shape{7, 16}, 1), seeded(Shape{7, 16}, 2));
    return read_back(table, 1, false);
  });
  probe(3, "paged attention, prefill of 7 (GQA 4/2, block size 3)", [&] {
    BlockPool pool(gqa, 8, 3);
    BlockTable table(pool);
    table.append(7);
    store_kv(table, 0, 0, seeded(Shape{7, 16}, 3), seeded(Shape{7, 16}, 4));
    return floats(paged_attention(table, 0, 0, seeded(Shape{7, 32}, 5)));
  });
  probe(3, "paged attention, decode at position 9 (MHA, block size 4)", [] {
    BlockPool pool(heads(4), 8, 4);
    BlockTable table(pool);
    table.append(10);
    store_kv(table, 1, 0, seeded(Shape{10, 32}, 6), seeded(Shape{10, 32}, 7));
    return floats(paged_attention(table, 1, 9, seeded(Shape{1, 32}, 8)));
  });

  // Step 4 ------------------------------------------------------------------------------------------
  probe(4, "hash_block: same, other parent, other token, other order", [] {
    const Ids block = {1, 2, 3, 4};
    const BlockHash h = hash_block(kRootBlockHash, block);
    return integers(std::vector<int>{h == hash_block(kRootBlockHash, block), h != hash_block(h, block),
                                     h != hash_block(kRootBlockHash, Ids{1, 2, 3, 5}),
                                     h != hash_block(kRootBlockHash, Ids{2, 1, 3, 4})});
  });
  probe(4, "match of 10, 9, 8 and a changed token (block size 4)", [] {
    BlockPool pool(ModelConfig::tiny(), 8, 4);
    PrefixCache cache(pool);
    const Ids tokens = walk(10, 64);
    BlockTable table(pool);
    table.append(10);
    cache.publish(table, tokens);
    Ids changed = tokens;
    changed[5] += 1;
    const std::span<const std::int32_t> all(tokens);
    return integers(std::vector<Index>{cache.match(all), cache.match(all.first(9)), cache.match(all.first(8)),
                                       cache.match(changed)});
  });
  probe(4, "attach: cached tokens, ref counts, blocks in use", [] {
    BlockPool pool(ModelConfig::tiny(), 8, 4);
    PrefixCache cache(pool);
    const Ids tokens = walk(10, 64);
    BlockTable first(pool), second(pool);
    first.append(10);
    cache.publish(first, tokens);
    const Index cached = cache.attach(second, tokens);
    return integers(std::vector<Index>{cached, pool.ref_count(first.blocks()[0]), pool.ref_count(first.blocks()[1]),
                                       pool.num_used()});
  });
  probe(4, "LRU eviction: match after each of 6 allocations", [] {
    BlockPool pool(ModelConfig::tiny(), 6, 4);
    PrefixCache cache(pool);
    const Ids tokens = walk(10, 64);
    {
      BlockTable table(pool);
      table.append(10);
      cache.publish(table, tokens);
    }
    std::vector<Index> matched;
    for (int i = 0; i < 6; ++i) {
      pool.allocate();
      matched.push_back(cache.match(tokens));
    }
    return integers(matched);
  });

  // Step 5 ------------------------------------------------------------------------------------------
  probe(5, "fork of 6 positions: child length and ref counts", [] {
    BlockPool pool(ModelConfig::tiny(), 6, 4);
    BlockTable parent(pool);
    parent.append(6);
    const BlockTable child = parent.fork();
    return integers(std::vector<Index>{child.length(), pool.ref_count(parent.blocks()[0]),
                                       pool.ref_count(parent.blocks()[1]), pool.num_used()});
  });
  probe(5, "copy-on-write: the child appends 1 after a fork mid-block", [] {
    BlockPool pool(ModelConfig::tiny(), 6, 4);
    BlockTable parent(pool);
    parent.append(6);
    BlockTable child = parent.fork();
    child.append(1);
    return integers(std::vector<Index>{child.blocks()[0] == parent.blocks()[0], child.blocks()[1] == parent.blocks()[1],
                                       pool.ref_count(parent.blocks()[1]), pool.num_used()});
  });
  probe(5, "parent's keys after its fork writes 30 positions", [&] {
    BlockPool pool(gqa, 32, 3);
    BlockTable parent(pool);
    parent.append(23);
    store_kv(parent, 0, 0, seeded(Shape{23, 16}, 9), seeded(Shape{23, 16}, 10));
    BlockTable child = parent.fork();
    child.append(30);
    store_kv(child, 0, 23, seeded(Shape{30, 16}, 11), seeded(Shape{30, 16}, 12));
    return read_back(parent, 0, true);
  });

  // Steps 6 and 7 -----------------------------------------------------------------------------------
  const ModelConfig tiny = ModelConfig::tiny();
  const CausalLM model(tiny, 42);
  const Ids prompt = walk(9, tiny.vocab_size);
  probe(6, "paged_forward of 9 tokens (tiny, block size 4): logits", [&] {
    BlockPool pool(tiny, 8, 4);
    BlockTable table(pool);
    return floats(paged_forward(model, table, prompt));
  });
  probe(6, "decode step at position 6 after a prefill of 6: logits", [&] {
    BlockPool pool(tiny, 8, 4);
    BlockTable table(pool);
    paged_forward(model, table, std::span<const std::int32_t>(prompt).first(6));
    return floats(paged_forward(model, table, std::span<const std::int32_t>(prompt).subspan(6, 1)));
  });
  ModelConfig varied = ModelConfig::tiny();
  varied.tie_word_embeddings = false;
  varied.initializer_range = 0.2f;
  const CausalLM varied_model(varied, 42);
  probe(7, "greedy paged generation of 20 tokens (block size 4)", [&] {
    BlockPool pool(varied, 16, 4);
    return integers(paged_generate(varied_model, pool, prompt, {.max_new_tokens = 20}).tokens);
  });
  probe(7, "prefix cache: 2nd prompt's cached, computed and tokens", [&] {
    BlockPool pool(varied, 32, 4);
    PrefixCache cache(pool);
    Ids a = walk(12, varied.vocab_size), b = a;
    const Ids tail_a = walk(5, varied.vocab_size, 1), tail_b = walk(5, varied.vocab_size, 2);
    a.insert(a.end(), tail_a.begin(), tail_a.end());
    b.insert(b.end(), tail_b.begin(), tail_b.end());
    paged_generate(varied_model, pool, a, {.max_new_tokens = 4, .prefix_cache = &cache});
    const PagedGeneration g = paged_generate(varied_model, pool, b, {.max_new_tokens = 4, .prefix_cache = &cache});
    std::vector<Index> out{g.cached_prompt_tokens, g.computed_prompt_tokens};
    out.insert(out.end(), g.tokens.begin(), g.tokens.end());
    return integers(out);
  });
  emit("{\"done\":true}");
}
