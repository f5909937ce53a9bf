// generate_bench.cpp — Google Benchmark for lesson 04: decode speed of CausalLM::generate on the real
// stories260K model, single-threaded, with and without the KV cache. Benchmarks report; they never
// pass or fail. Run: ./llm bench (release build).
#include <benchmark/benchmark.h>

#include <memory>
#include <optional>

#include "causal_lm.h"
#include "llm/checkpoint.h"
#include "llm/model_files.h"

namespace {

// Loaded once per process; nullptr when the model is not on disk.
const llm::CausalLM* stories260k() {
  static std::unique_ptr<llm::CausalLM> model = []() -> std::unique_ptr<llm::CausalLM> {
    const std::optional<llm::ModelFiles> files = llm::find_model();
    if (!files) return nullptr;
    return std::make_unique<llm::CausalLM>(llm::CausalLM::from_checkpoint(llm::load_checkpoint(files->checkpoint)));
  }();
  return model.get();
}

// Greedy decoding from BOS for state.range(0) new tokens: tokens per second over the whole run
// (llama2.c's figure for the same model is measured the same way, over 512 positions).
void BM_Decode_stories260K(benchmark::State& state, bool use_cache) {
  const llm::CausalLM* model = stories260k();
  if (!model) {
    state.SkipWithError("stories260K not found (./llm model)");
    return;
  }
  const auto new_tokens = static_cast<int>(state.range(0));
  const llm::IdTensor bos = llm::make_ids({{1}});
  for (auto _ : state) {
    llm::IdTensor out =
        model->generate(bos, {.max_new_tokens = new_tokens, .temperature = 0.0f, .use_cache = use_cache});
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(new_tokens) * static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_Decode_stories260K, KVCache, true)->Arg(511)->ArgName("new_tokens")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode_stories260K, NoCache, false)->Arg(511)->ArgName("new_tokens")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
