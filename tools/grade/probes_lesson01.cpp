// probes_lesson01.cpp — `./llm compare lesson01`: the tokenizer (tok512 when the model folder is found,
// else a small vocabulary built here), the embedding lookup, the sinusoidal table and RoPE, each on
// fixed inputs. Not here: timing, the tokenizer file reader (given code).
#include <cstdio>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "embedding.h"
#include "grade/probes.h"
#include "llm/model_files.h"
#include "rope.h"
#include "tokenizer.h"

using namespace llm;
using namespace llm::dump;

namespace {

// Bytes 0..255 as <0xHH>, then a few merges: enough to exercise merges, ties and byte fallback.
Tokenizer small_vocabulary() {
  std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    pieces.emplace_back(buf);
    scores.push_back(0);
  }
  const std::vector<std::pair<std::string, float>> extra = {
      {" ", -1}, {"a", -1}, {"b", -1}, {"c", -1}, {"n", -1}, {"ab", -2}, {"bc", -1.5f}, {"abc", -3},
      {" a", -4}, {"an", -2.5f}, {"ban", -5}, {"ana", -2}};
  for (const auto& [p, s] : extra) {
    pieces.push_back(p);
    scores.push_back(s);
  }
  return Tokenizer::from_pieces(std::move(pieces), std::move(scores));
}

}  // namespace

int main() {
  std::optional<Tokenizer> tok;
  std::string source = "a small vocabulary built by the probe program";
  if (const std::optional<ModelFiles> files = find_model()) {
    tok = Tokenizer::load(files->tokenizer, 512);
    source = "tok512 (" + files->tokenizer.string() + ")";
  } else {
    tok = small_vocabulary();
  }
  emit("{\"setup\":" + quote(source) + "}");
  // (label, text): the label is what compare prints, so the invalid byte is spelled out in it.
  const std::vector<std::pair<std::string, std::string>> texts = {
      {"Once upon a time", "Once upon a time"},
      {"banana cab", "banana cab"},
      {"Lily liked the café 你好!", "Lily liked the café 你好!"},
      {"bad \\xFF byte", "bad \xff byte"}};
  for (const auto& [label, t] : texts) {
    probe(2, "encode \"" + label + "\"", [&] { return integers(tok->encode(t, true, false)); });
  }
  for (const auto& [label, t] : texts) {
    // Bytes, not text: a decoded invalid byte is not UTF-8, so it could not travel in a JSON string.
    probe(3, "decode(encode \"" + label + "\") as bytes", [&] {
      const std::string d = tok->decode(tok->encode(t, true, false));
      return integers(std::vector<unsigned char>(d.begin(), d.end()));
    });
  }
  probe(3, "decode_piece after BOS and after a word", [&] {
    const auto ids = tok->encode("Once upon", false, false);
    return text(tok->decode_piece(Tokenizer::kBos, ids.front()) + "|" + tok->decode_piece(ids.front(), ids.back()));
  });

  const Embedding emb(seeded(Shape{11, 6}, 7));  // (V, C)
  probe(4, "embedding lookup of ids (2, 3) in a (11, 6) table",
        [&] { return floats(emb.forward(make_ids({{0, 5, 10}, {3, 3, 1}}))); });
  probe(4, "embedding lookup of id 11 (outside the table)", [&] { return floats(emb.forward(make_ids({{11}}))); });
  probe(5, "sinusoidal encoding (12, 8)", [] { return floats(sinusoidal_positional_encoding(12, 8)); });
  probe(5, "sinusoidal encoding (3, 6) base 100", [] { return floats(sinusoidal_positional_encoding(3, 6, 100.0f)); });
  probe(6, "RoPE inverse frequencies D 16 theta 10000", [] {
    const std::vector<double> f = rope_inverse_frequencies(16, 10000.0f);
    return floats(std::vector<float>(f.begin(), f.end()));
  });
  for (const RopeConvention conv : {RopeConvention::kAdjacentPairs, RopeConvention::kHalfSplit}) {
    const std::string name = conv == RopeConvention::kAdjacentPairs ? "adjacent pairs" : "half split";
    probe(7, "RoPE cos table (10, 4) " + name, [&] {
      return floats(RotaryEmbedding(8, 10, 500.0f, conv).cos_table());
    });
    for (const Index pos : {0, 3, 9, 10, 1000}) {
      probe(8, "rotate one head at position " + std::to_string(pos) + " (table of 10) " + name, [&] {
        const RotaryEmbedding rope(8, 10, 500.0f, conv);
        Tensor head = seeded(Shape{8}, 11);
        rope.rotate(head.flat(), pos);
        return floats(head);
      });
    }
  }
  probe(9, "adjacent_to_half_split of 0..7", [] {
    return floats(adjacent_to_half_split(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
  });
  emit("{\"done\":true}");
}
