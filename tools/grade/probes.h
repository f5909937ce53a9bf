// probes.h — the dump side of `./llm compare lessonNN` for the lessons without a model to run (01, 02,
// 03, 05): named probes, each one call into the lesson's code on fixed, seeded inputs, printed as one
// JSON line. Each probes_lessonNN.cpp is compiled once and linked twice (the student's library and the
// reference); compare.py pairs the probes by name. A probe announces itself before it runs, so a crash
// is blamed on the probe that was running.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "grade/dump_json.h"
#include "inputs.h"
#include "llm/errors.h"
#include "llm/rng.h"
#include "llm/tensor.h"

namespace llm::dump {

// What a probe computed: floats (compared with a tolerance), integers and text (compared exactly).
struct ProbeResult {
  std::vector<float> values;
  std::vector<std::int64_t> ints;
  std::string text;
  bool has_text = false;
};

inline ProbeResult floats(const Tensor& t) {
  ProbeResult r;
  r.values.assign(t.flat().begin(), t.flat().end());
  return r;
}
inline ProbeResult floats(std::vector<float> v) {
  ProbeResult r;
  r.values = std::move(v);
  return r;
}
inline ProbeResult text(std::string s) {
  ProbeResult r;
  r.text = std::move(s);
  r.has_text = true;
  return r;
}
template <typename T>
ProbeResult integers(const std::vector<T>& v) {
  ProbeResult r;
  r.ints.assign(v.begin(), v.end());
  return r;
}

// Runs body() -> ProbeResult; an exception becomes status not_implemented or error, never a crash.
template <typename F>
void probe(int step, const std::string& name, F&& body) {
  emit("{\"start\":" + quote(name) + "}");
  const std::string head = "{\"probe\":" + quote(name) + ",\"step\":" + std::to_string(step);
  try {
    const ProbeResult r = body();
    std::string line = head + ",\"status\":\"ok\",\"values\":" + float_list(r.values) + ",\"ints\":" + list(r.ints);
    if (r.has_text) line += ",\"text\":" + quote(r.text);
    emit(line + "}");
  } catch (const NotImplemented& e) {
    emit(head + ",\"status\":\"not_implemented\",\"message\":" + quote(e.what()) + "}");
  } catch (const std::exception& e) {
    emit(head + ",\"status\":\"error\",\"type\":" + quote(type_name(e)) + ",\"message\":" + quote(e.what()) + "}");
  }
}

// The seeded inputs are the test suites' own (tests/support/inputs.h): a probe and a test case given
// the same seed see the same numbers.
using testing::causal_mask;
using testing::positions;
using testing::seeded;

// Runs x (B, T, C) through `block` one token at a time, each step with its position and the causal
// mask over the cache so far, and returns every step's output in order. Block is anything with
// Attention::forward's signature (Attention, DecoderLayer); the cache must hold T positions.
template <typename Block, typename Cache, typename Rope>
ProbeResult token_by_token(const Block& block, const Tensor& x, Cache& cache, const Rope& rope) {
  const Index B = x.size(0), T = x.size(1), C = x.size(2);
  ProbeResult r;
  for (Index t = 0; t < T; ++t) {
    Tensor xt(Shape{B, 1, C});  // (B, 1, C): token t of every row
    for (Index b = 0; b < B; ++b) std::copy_n(&x(b, t, 0), C, &xt(b, 0, 0));
    const Tensor mask = causal_mask(B, 1, t);
    const Tensor y = block.forward(xt, positions(B, 1, t), &mask, &cache, rope);
    r.values.insert(r.values.end(), y.flat().begin(), y.flat().end());
  }
  return r;
}

}  // namespace llm::dump
