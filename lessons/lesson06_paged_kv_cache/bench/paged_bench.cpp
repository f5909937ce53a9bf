// paged_bench.cpp — Google Benchmark for lesson 06: what the paged KV cache and prefix caching buy, and
// what the indirection costs, measured single-threaded. One source, compiled twice: against the
// reference (lesson06_bench_reference) and against the student's code (lesson06_bench_student); a stub
// that throws llm::NotImplemented turns its rows into skipped ones with the stub's message. The
// contiguous baselines are lesson 04's reference in both builds. Benchmarks report; they never fail.
// Run everything, with the tables and pictures of docs/benchmarks.md: tools/bench/run_benchmarks.sh.
//
// The families:
//   BM_KVWaste/<scheme>            KV memory reserved but holding no token, over a seeded mix of 256
//                                  requests (stories260K's shape and 512-position context), summed over
//                                  every step of every request: contiguous reservation of the whole
//                                  context, of prompt + max_new_tokens, and paged with BS 8 / 16 / 32
//                                  (driving the real BlockPool and BlockTable). Counters only matter.
//   BM_PrefixCache/<model>/<off|on>  64 requests sharing a 256-token prefix (16 own tokens each), one new
//                                  token each: prompt tokens computed and time to first token.
//   BM_DecodeStep/<model>/pos:p    ONE decode step at cache length p on lesson 04's contiguous cache and
//                                  on the paged one (BS 16), alternating: their times and ratio
//   BM_DecodeStepBlock/stories260K/bs:BS  the same pair at p = 500, for BS 1 .. 128
//
// Times are CPU time of the benchmark thread (Google Benchmark's default; the counters use the same clock).
// Legend: p cached positions, BS block_size, N sequence length.
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_models.h"
#include "block_pool.h"
#include "block_table.h"
#include "causal_lm.h"
#include "kv_cache.h"
#include "llm/rng.h"
#include "paged_model.h"
#include "prefix_cache.h"

namespace {

using Ids = std::vector<std::int32_t>;
using llm::bench::ModelId;
using llm::bench::run_or_skip;
using llm::bench::with_model;

// ---------------------------------------------------------------------------------------------
// Inputs (the models, stories260K and the 15M shape: lesson 04's bench/bench_models.h)
// ---------------------------------------------------------------------------------------------

// `len` ids: BOS, then a fixed walk over the vocabulary (speed depends on how many, not which).
Ids walk_ids(const llm::ModelConfig& config, llm::Index len, std::uint64_t salt = 0) {
  Ids ids(static_cast<size_t>(len));
  ids[0] = config.bos_token_id;
  for (llm::Index t = 1; t < len; ++t)
    ids[static_cast<size_t>(t)] = static_cast<std::int32_t>((t * 7919 + 13 + salt * 104729) % config.vocab_size);
  return ids;
}

// ---------------------------------------------------------------------------------------------
// 1. KV memory waste on a request mix
// ---------------------------------------------------------------------------------------------

struct Request {
  llm::Index prompt;      // prompt tokens
  llm::Index max_new;     // max_new_tokens the client asked for
  llm::Index generated;   // tokens actually generated: max_new, or fewer when EOS came first
};

// 256 requests in a 512-position context, seeded: prompts uniform in [32, 320]; max_new_tokens uniform
// in [32, 512 - prompt]; the output ends at EOS with probability 1/150 per token (a geometric tail of
// mean 150), or at max_new_tokens. Every platform draws the same mix (llm::Rng).
std::vector<Request> request_mix(llm::Index context) {
  llm::Rng rng(2024);
  std::vector<Request> mix;
  auto uniform = [&](llm::Index lo, llm::Index hi) {
    return lo + static_cast<llm::Index>(rng.next_u64() % static_cast<std::uint64_t>(hi - lo + 1));
  };
  for (int i = 0; i < 256; ++i) {
    Request r{};
    r.prompt = uniform(32, 320);
    r.max_new = uniform(32, context - r.prompt);
    r.generated = 1;
    while (r.generated < r.max_new && rng.uniform() >= 1.0f / 150.0f) ++r.generated;
    mix.push_back(r);
  }
  return mix;
}

enum class Scheme { kContext, kRequest, kPaged };

// Every step of every request: the positions the cache holds (prompt + tokens so far) against those
// the scheme has reserved for it at that moment. Paged schemes ask a real BlockTable.
void BM_KVWaste(benchmark::State& state, Scheme scheme, llm::Index block_size) {
  run_or_skip(state, [&] {
    const llm::ModelConfig cfg = llm::ModelConfig::stories260k();
    const llm::Index context = cfg.max_position_embeddings;
    const std::vector<Request> mix = request_mix(context);
    std::optional<llm::BlockPool> pool;
    if (scheme == Scheme::kPaged) pool.emplace(cfg, context / block_size, block_size);
    double reserved = 0, used = 0, steps = 0, final_len = 0;
    for (auto _ : state) {
      reserved = used = steps = final_len = 0;
      for (const Request& r : mix) {
        std::optional<llm::BlockTable> table;
        if (pool) {
          table.emplace(*pool);
          table->append(r.prompt);  // the prefill
        }
        for (llm::Index s = 1; s <= r.generated; ++s) {
          const llm::Index held = r.prompt + s;  // the prompt and the s-th new token's position
          if (table) table->append(1);
          const llm::Index slots = scheme == Scheme::kContext   ? context
                                   : scheme == Scheme::kRequest ? r.prompt + r.max_new
                                                                : table->num_blocks() * block_size;
          reserved += static_cast<double>(slots);
          used += static_cast<double>(held);
          steps += 1;
        }
        final_len += static_cast<double>(r.prompt + r.generated);
        if (table) table->release();
      }
      benchmark::DoNotOptimize(reserved);
    }
    const double bytes_per_position = static_cast<double>(llm::kv_cache_bytes(cfg, 1));
    state.counters["waste_pct"] = 100.0 * (reserved - used) / reserved;
    state.counters["waste_pos_per_seq"] = (reserved - used) / steps;  // time-averaged, per running sequence
    state.counters["reserved_pos_per_seq"] = reserved / steps;
    state.counters["used_pos_per_seq"] = used / steps;
    state.counters["mean_final_len"] = final_len / static_cast<double>(mix.size());
    state.counters["mean_reserved_bytes"] = bytes_per_position * reserved / steps;
    state.counters["theory_waste_pos"] = scheme == Scheme::kPaged ? (static_cast<double>(block_size) - 1) / 2 : 0.0;
  });
}

// ---------------------------------------------------------------------------------------------
// 2. Prefix caching: 64 requests sharing a 256-token prefix
// ---------------------------------------------------------------------------------------------

// CPU time of this thread, in seconds: what Google Benchmark reports for the other families too, so
// that other programs on a shared machine do not count.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void BM_PrefixCache(benchmark::State& state, ModelId id, bool use_cache) {
  with_model(state, id, [&](const llm::CausalLM& model) {
    const llm::ModelConfig& cfg = model.config();
    constexpr int kRequests = 64;
    constexpr llm::Index kPrefix = 256, kOwn = 16, kBlock = 16;
    const Ids prefix = walk_ids(cfg, kPrefix);
    std::vector<Ids> prompts;
    for (int i = 0; i < kRequests; ++i) {
      Ids p = prefix;
      const Ids own = walk_ids(cfg, kOwn + 1, static_cast<std::uint64_t>(i) + 1);
      p.insert(p.end(), own.begin() + 1, own.end());  // 16 tokens of its own after the shared 256
      prompts.push_back(std::move(p));
    }
    double computed = 0, ttft_first = 0, ttft_rest = 0;
    for (auto _ : state) {
      llm::BlockPool pool(cfg, 4 * (kPrefix + kOwn) / kBlock, kBlock);  // a new server: nothing cached
      llm::PrefixCache cache(pool);
      computed = ttft_rest = 0;
      for (int i = 0; i < kRequests; ++i) {
        const double t0 = thread_seconds();
        const llm::PagedGeneration g = llm::paged_generate(
            model, pool, prompts[static_cast<size_t>(i)], {.max_new_tokens = 1, .prefix_cache = use_cache ? &cache : nullptr});
        const double seconds = thread_seconds() - t0;
        benchmark::DoNotOptimize(g.tokens.data());
        computed += static_cast<double>(g.computed_prompt_tokens);
        (i == 0 ? ttft_first : ttft_rest) += seconds;
      }
    }
    state.counters["prefill_tokens"] = computed;
    state.counters["prompt_tokens"] = static_cast<double>(kRequests * (kPrefix + kOwn));
    state.counters["ttft_first_ms"] = ttft_first * 1e3;
    state.counters["ttft_rest_ms"] = ttft_rest / (kRequests - 1) * 1e3;  // mean over requests 2 .. 64
    state.counters["ttft_mean_ms"] = (ttft_first + ttft_rest) / kRequests * 1e3;
  });
}

// ---------------------------------------------------------------------------------------------
// 3. One decode step: paged against contiguous
// ---------------------------------------------------------------------------------------------

// One decode step at cache length p on both caches, one after the other in every iteration, so that
// whatever else runs on a shared machine slows both alike; each side is timed in thread CPU time.
// Both caches are prefilled with p tokens outside the timed loop; each step runs one token at position
// p and then rewinds: KVCache::crop(p) for lesson 04's contiguous cache (as lesson 04's
// BM_DecodeStep_KVCache does), BlockTable::crop(p) for the paged one (which gives back the block a step
// at a block boundary took). Counters: contiguous_us, paged_us per step, and their ratio.
void decode_step_pair(benchmark::State& state, const llm::CausalLM& model, llm::Index p, llm::Index block_size) {
  const Ids ids = walk_ids(model.config(), p + 1);
  // lesson 04's contiguous cache
  llm::IdTensor past(llm::Shape{1, p}), token(llm::Shape{1, 1});
  std::copy_n(ids.data(), p, past.data());
  token(0, 0) = ids[static_cast<size_t>(p)];
  auto cache = std::make_shared<llm::KVCache>(model.config(), 1, p + 1);
  model.forward(past, {.past_key_values = cache, .use_cache = true});
  // the paged cache
  llm::BlockPool pool(model.config(), (p + 1 + block_size - 1) / block_size + 1, block_size);
  llm::BlockTable table(pool);
  llm::paged_forward(model, table, std::span<const std::int32_t>(ids).first(static_cast<size_t>(p)));
  const std::span<const std::int32_t> next = std::span<const std::int32_t>(ids).subspan(static_cast<size_t>(p));

  double contiguous = 0, paged = 0;
  for (auto _ : state) {
    const double t0 = thread_seconds();
    llm::CausalLMOutputWithPast out = model.forward(token, {.past_key_values = cache, .use_cache = true});
    benchmark::DoNotOptimize(out.logits.data());
    cache->crop(p);
    const double t1 = thread_seconds();
    llm::Tensor logits = llm::paged_forward(model, table, next);
    benchmark::DoNotOptimize(logits.data());
    table.crop(p);
    paged += thread_seconds() - t1;
    contiguous += t1 - t0;
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["contiguous_us"] = contiguous / n * 1e6;
  state.counters["paged_us"] = paged / n * 1e6;
  state.counters["paged_over_contiguous"] = paged / contiguous;
}

void BM_DecodeStep(benchmark::State& state, ModelId id) {
  with_model(state, id, [&](const llm::CausalLM& model) { decode_step_pair(state, model, state.range(0), 16); });
}

void BM_DecodeStepBlock(benchmark::State& state, ModelId id) {
  with_model(state, id, [&](const llm::CausalLM& model) { decode_step_pair(state, model, 500, state.range(0)); });
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

void register_all() {
  using benchmark::RegisterBenchmark;
  RegisterBenchmark("BM_KVWaste/contiguous_context", BM_KVWaste, Scheme::kContext, 0)->MinTime(0.05);
  RegisterBenchmark("BM_KVWaste/contiguous_request", BM_KVWaste, Scheme::kRequest, 0)->MinTime(0.05);
  for (llm::Index bs : {8, 16, 32})
    RegisterBenchmark(("BM_KVWaste/paged_bs" + std::to_string(bs)).c_str(), BM_KVWaste, Scheme::kPaged, bs)
        ->MinTime(0.05);

  const std::pair<const char*, ModelId> models[] = {{"stories260K", ModelId::kStories260K},
                                                    {"s15Mshape_gqa", ModelId::kRandomGQA}};
  for (const auto& [name, id] : models) {
    const std::string n = name;
    // One iteration is 64 whole requests (up to seconds for the 15M shape): run it once.
    RegisterBenchmark(("BM_PrefixCache/" + n + "/off").c_str(), BM_PrefixCache, id, false)
        ->Iterations(1)->Unit(benchmark::kMillisecond);
    RegisterBenchmark(("BM_PrefixCache/" + n + "/on").c_str(), BM_PrefixCache, id, true)
        ->Iterations(1)->Unit(benchmark::kMillisecond);
  }
  for (const auto& [name, id] : models) {
    // Tens of microseconds per step: the median of 5 runs, as lesson 04's decode-step benchmark.
    auto* b = RegisterBenchmark(("BM_DecodeStep/" + std::string(name)).c_str(), BM_DecodeStep, id);
    for (int p : {16, 32, 64, 128, 256, 384, 500}) b->Arg(p);
    b->ArgName("pos")->Unit(benchmark::kMicrosecond)->MinTime(0.2)->Repetitions(5)->ReportAggregatesOnly(true);
  }
  auto* sweep = RegisterBenchmark("BM_DecodeStepBlock/stories260K", BM_DecodeStepBlock, ModelId::kStories260K);
  for (int bs : {1, 2, 4, 8, 16, 32, 64, 128}) sweep->Arg(bs);
  sweep->ArgName("bs")->Unit(benchmark::kMicrosecond)->MinTime(0.2)->Repetitions(3)->ReportAggregatesOnly(true);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
