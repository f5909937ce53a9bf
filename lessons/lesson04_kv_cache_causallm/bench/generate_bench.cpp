// generate_bench.cpp — Google Benchmark for lesson 04: what the KV cache buys, measured single-threaded.
// One source, compiled twice: against the reference (lesson04_bench_reference) and against the student's
// code (lesson04_bench_student). A stub that throws llm::NotImplemented turns its benchmark into a
// skipped row with the stub's message, never a crash. Benchmarks report; they never pass or fail.
// Run everything, with plots and the side-by-side table: tools/bench/run_benchmarks.sh (./llm bench).
//
// The families, each on three models (see kModels below):
//   BM_Generate_KVCache / BM_Generate_NoCache   generate() from a 1-token BOS prompt, greedy, N new tokens;
//                                               tok/s, KV bytes, and a complexity fit over N
//   BM_Prefill                                  llama-bench's "pp": one forward of a whole prompt (use_cache)
//   BM_Decode                                   llama-bench's "tg": 128 single-token steps on the cache
//   BM_DecodeStep_KVCache / BM_DecodeStep_NoCache   ONE decode step at cache length p: with the cache
//                                               (forward one token, then crop back to p) and without it
//                                               (forward of the whole p + 1 tokens)
//
// Times (and the tok/s rates) are CPU time of the benchmark thread, Google Benchmark's default: on an
// idle machine it equals wall time, on a shared one it does not count what the scheduler gave to others.
//
// Legend: N new tokens, p cached positions, V vocab size.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <regex>
#include <string>
#include <vector>

#include "bench/bench_models.h"
#include "causal_lm.h"
#include "kv_cache.h"
#include "llm/ops.h"

namespace {

using llm::bench::Loaded;
using llm::bench::loaded;
using llm::bench::ModelId;
using llm::bench::random_15m_shape;
using llm::bench::with_model;

// ---------------------------------------------------------------------------------------------
// Inputs (the models: bench/bench_models.h, shared with lessons 06 and 07)
// ---------------------------------------------------------------------------------------------

// A prompt of `len` ids: BOS, then a fixed pseudo-random walk over the vocabulary (speed does not
// depend on which tokens they are, only on how many).
llm::IdTensor prompt_ids(const llm::ModelConfig& config, llm::Index len) {
  llm::IdTensor ids(llm::Shape{1, len});
  ids(0, 0) = config.bos_token_id;
  for (llm::Index t = 1; t < len; ++t) ids(0, t) = static_cast<std::int32_t>((t * 7919 + 13) % config.vocab_size);
  return ids;
}

// ---------------------------------------------------------------------------------------------
// 1. Whole generations: N new tokens from BOS, with and without the cache
// ---------------------------------------------------------------------------------------------

void BM_Generate(benchmark::State& state, ModelId id, bool use_cache) {
  with_model(state, id, [&](const llm::CausalLM& model) {
    const auto new_tokens = static_cast<int>(state.range(0));
    const llm::IdTensor bos = prompt_ids(model.config(), 1);
    for (auto _ : state) {
      llm::IdTensor out =
          model.generate(bos, {.max_new_tokens = new_tokens, .sampling = {.temperature = 0.0f}, .use_cache = use_cache});
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    }
    const auto n = static_cast<double>(new_tokens);
    state.counters["tok/s"] = benchmark::Counter(n * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    // generate() sizes its cache to prompt + new tokens; without the cache nothing is kept between steps.
    state.counters["kv_bytes"] =
        use_cache ? static_cast<double>(llm::kv_cache_bytes(model.config(), 1 + new_tokens)) : 0.0;
    state.SetComplexityN(new_tokens);
  });
}

void BM_Generate_KVCache(benchmark::State& state, ModelId id) { BM_Generate(state, id, true); }
void BM_Generate_NoCache(benchmark::State& state, ModelId id) { BM_Generate(state, id, false); }

// ---------------------------------------------------------------------------------------------
// 2. llama-bench's split: prompt processing (pp) and token generation (tg)
// ---------------------------------------------------------------------------------------------

// pp: one forward of the whole prompt into an empty cache (allocated once, emptied by crop(0)).
void BM_Prefill(benchmark::State& state, ModelId id) {
  with_model(state, id, [&](const llm::CausalLM& model) {
    const llm::Index len = state.range(0);
    const llm::IdTensor prompt = prompt_ids(model.config(), len);
    auto cache = std::make_shared<llm::KVCache>(model.config(), 1, len);
    for (auto _ : state) {
      cache->crop(0);
      llm::CausalLMOutputWithPast out = model.forward(prompt, {.past_key_values = cache, .use_cache = true});
      benchmark::DoNotOptimize(out.logits.data());
    }
    state.counters["tok/s"] =
        benchmark::Counter(static_cast<double>(len * state.iterations()), benchmark::Counter::kIsRate);
  });
}

// tg: `n` decode steps of one token each from an empty cache, feeding back the greedy choice
// (sampling is an argmax over V logits: negligible next to the forward).
void BM_Decode(benchmark::State& state, ModelId id) {
  with_model(state, id, [&](const llm::CausalLM& model) {
    const llm::Index n = state.range(0);
    auto cache = std::make_shared<llm::KVCache>(model.config(), 1, n);
    llm::IdTensor next(llm::Shape{1, 1});
    for (auto _ : state) {
      cache->crop(0);
      next(0, 0) = model.config().bos_token_id;
      for (llm::Index i = 0; i < n; ++i) {
        llm::CausalLMOutputWithPast out = model.forward(next, {.past_key_values = cache, .use_cache = true});
        next(0, 0) = static_cast<std::int32_t>(llm::argmax(out.logits.row(0, 0)));
      }
      benchmark::DoNotOptimize(next.data());
    }
    state.counters["tok/s"] =
        benchmark::Counter(static_cast<double>(n * state.iterations()), benchmark::Counter::kIsRate);
  });
}

// ---------------------------------------------------------------------------------------------
// 3. The cost of ONE decode step at cache length p (the new token sits at position p)
// ---------------------------------------------------------------------------------------------

// With the cache: prefill p tokens once, outside the timed loop; each iteration forwards one token on
// top of them, then crop(p) rewinds the cache so the next iteration sees the same length again.
void BM_DecodeStep_KVCache(benchmark::State& state, ModelId id) {
  with_model(state, id, [&](const llm::CausalLM& model) {
    const llm::Index p = state.range(0);
    const llm::IdTensor ids = prompt_ids(model.config(), p + 1);
    llm::IdTensor past(llm::Shape{1, p}), token(llm::Shape{1, 1});
    std::copy_n(ids.data(), p, past.data());
    token(0, 0) = ids(0, p);
    auto cache = std::make_shared<llm::KVCache>(model.config(), 1, p + 1);
    model.forward(past, {.past_key_values = cache, .use_cache = true});  // prefill, not timed
    for (auto _ : state) {
      llm::CausalLMOutputWithPast out = model.forward(token, {.past_key_values = cache, .use_cache = true});
      benchmark::DoNotOptimize(out.logits.data());
      cache->crop(p);
    }
    state.counters["kv_bytes_used"] = static_cast<double>(llm::kv_cache_bytes(model.config(), p + 1));
  });
}

// Without the cache: the same next-token logits need a forward of all p + 1 tokens.
void BM_DecodeStep_NoCache(benchmark::State& state, ModelId id) {
  with_model(state, id, [&](const llm::CausalLM& model) {
    const llm::IdTensor ids = prompt_ids(model.config(), state.range(0) + 1);
    for (auto _ : state) {
      llm::CausalLMOutputWithPast out = model.forward(ids);
      benchmark::DoNotOptimize(out.logits.data());
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

// New-token counts of the generation sweeps. stories260K has 512 positions and the BOS prompt takes
// one, so its top value is 511; the random configs have 1024 positions and go to 512.
std::vector<int> counts(int top) { return {16, 32, 64, 128, 256, top}; }
// Without the cache a 15M-shape model re-runs sum(k) = N(N+1)/2 token passes: 131k for N = 512, about
// 35 s a run here. The default sweep stops at 128 for them (3 s); --full_sweep adds 256 and 512.
std::vector<int> counts_uncached_random(bool full) { return full ? counts(512) : std::vector<int>{16, 32, 64, 128}; }

void generate_counts(benchmark::internal::Benchmark* b, const std::vector<int>& ns) {
  for (int n : ns) b->Arg(n);
  b->ArgName("new_tokens")->Unit(benchmark::kMillisecond);
}

// Cache lengths of the per-step benchmarks: the four asked for (16, 64, 256, 511) plus points for the plot.
void positions(benchmark::internal::Benchmark* b) {
  for (int p : {16, 32, 64, 128, 256, 384, 500, 511}) b->Arg(p);
  b->ArgName("pos")->Unit(benchmark::kMicrosecond);
}

// Whether generate() runs at all for this model and mode, tried once at start-up with the sweep's
// smallest count. Google Benchmark 1.7.1 crashes when it fits the complexity of a family whose every
// run was skipped (RunSpecifiedBenchmarks calls Runs.front() on the empty list of good runs), so the fit
// is requested only for families that will have at least this one good run.
bool generate_works(ModelId id, bool use_cache) {
  const Loaded& m = loaded(id);
  if (!m.model) return false;
  try {
    m.model->generate(prompt_ids(m.model->config(), 1), {.max_new_tokens = 16, .sampling = {.temperature = 0.0f}, .use_cache = use_cache});
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// Whether --benchmark_filter can select a run of this generation family (names as 1.7.1 spells them).
// Families that cannot run are neither probed nor fitted, so a filtered run does not build the other
// models. When in doubt (a negative or an invalid filter) the answer is yes: probing only costs time.
bool filter_may_select(const std::string& family, const char* min_time, const std::vector<int>& ns) {
  const std::string filter = benchmark::GetBenchmarkFilter();
  if (filter.empty() || filter == "." || filter == "all" || filter[0] == '-') return true;
  try {
    const std::regex re(filter);
    for (int n : ns)
      if (std::regex_search(family + "/new_tokens:" + std::to_string(n) + "/min_time:" + min_time, re))
        return true;
    return false;
  } catch (const std::regex_error&) {
    return true;
  }
}

struct ModelEntry {
  const char* name;  // the second part of every benchmark name
  ModelId id;
  llm::ModelConfig config;  // stories260K: the preset, identical to the checkpoint's header
  int top_count;            // largest new-token count: BOS + top_count <= max_position_embeddings
};
const ModelEntry kModels[] = {
    {"stories260K", ModelId::kStories260K, llm::ModelConfig::stories260k(), 511},
    {"s15Mshape_mha", ModelId::kRandomMHA, random_15m_shape(6), 512},
    {"s15Mshape_gqa", ModelId::kRandomGQA, random_15m_shape(2), 512},
};

// Multiply-adds of one decode step, for the JSON context (tools/bench/render.py compares time with it):
// every weight matrix once for the new token, plus 2 x H x D per layer for each key attended to
// (q . k for the score, then the weighted sum of v).
void add_flop_context(const ModelEntry& m) {
  const llm::ModelConfig& c = m.config;
  const long long C = c.hidden_size, F = c.intermediate_size, L = c.num_hidden_layers, V = c.vocab_size;
  const long long HD = static_cast<long long>(c.num_attention_heads) * c.head_dim();
  const long long KVD = static_cast<long long>(c.num_key_value_heads) * c.head_dim();
  const long long weights = L * (C * HD + 2 * C * KVD + HD * C + 3 * C * F) + V * C;
  const long long per_key = L * 2 * HD;
  benchmark::AddCustomContext(std::string("model ") + m.name, c.summary());
  benchmark::AddCustomContext(std::string("decode MACs ") + m.name,
                              "weights " + std::to_string(weights) + ", per attended key " + std::to_string(per_key));
}

void register_all(bool full_sweep) {
  using benchmark::RegisterBenchmark;
  for (const ModelEntry& m : kModels) {
    add_flop_context(m);
    const std::string name = m.name;
    const std::vector<int> cached_ns = counts(m.top_count);
    const std::vector<int> uncached_ns = m.id == ModelId::kStories260K ? cached_ns : counts_uncached_random(full_sweep);
    // Cached generation is cheap: a short default min_time. The uncached sweep takes up to seconds per
    // iteration (511 tokens of stories260K: about 5 s), so its min_time makes those run exactly once.
    const std::string cached_name = "BM_Generate_KVCache/" + name, uncached_name = "BM_Generate_NoCache/" + name;
    auto* cached = RegisterBenchmark(cached_name.c_str(), BM_Generate_KVCache, m.id);
    generate_counts(cached, cached_ns);
    cached->MinTime(0.2);
    // Complexity() without an argument: Google Benchmark picks the best fit of O(1), O(N), O(N^2), ...
    if (filter_may_select(cached_name, "0.200", cached_ns) && generate_works(m.id, true)) cached->Complexity();
    auto* uncached = RegisterBenchmark(uncached_name.c_str(), BM_Generate_NoCache, m.id);
    generate_counts(uncached, uncached_ns);
    uncached->MinTime(0.05);
    if (filter_may_select(uncached_name, "0.050", uncached_ns) && generate_works(m.id, false)) uncached->Complexity();
  }
  for (const ModelEntry& m : kModels) {
    const std::string name = m.name;
    RegisterBenchmark(("BM_Prefill/" + name).c_str(), BM_Prefill, m.id)
        ->Arg(128)->Arg(512)->ArgName("prompt")->Unit(benchmark::kMillisecond)->MinTime(0.2);
    RegisterBenchmark(("BM_Decode/" + name).c_str(), BM_Decode, m.id)
        ->Arg(128)->ArgName("new_tokens")->Unit(benchmark::kMillisecond)->MinTime(0.2);
    // The cached step takes tens of microseconds, so one 0.1 s run is at the mercy of a noisy moment
    // (16 -> 500 growth measured 2.3x-2.6x run to run); the median of 5 runs is what the tables use.
    RegisterBenchmark(("BM_DecodeStep_KVCache/" + name).c_str(), BM_DecodeStep_KVCache, m.id)
        ->Apply(positions)->MinTime(0.1)->Repetitions(5)->ReportAggregatesOnly(true);
    RegisterBenchmark(("BM_DecodeStep_NoCache/" + name).c_str(), BM_DecodeStep_NoCache, m.id)->Apply(positions)->MinTime(0.1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // Our one flag, taken out before Google Benchmark checks that it knows every remaining argument.
  bool full_sweep = false;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--full_sweep") full_sweep = true;
    else argv[kept++] = argv[i];
  }
  argc = kept;
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all(full_sweep);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
