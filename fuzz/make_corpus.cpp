// make_corpus.cpp — writes the fuzzing seed corpus: small synthetic valid files, the real stories260K
// files when they are on disk (copied at run time, never committed), and truncated / extended / swapped
// variants of both. Usage: make_corpus <out-dir>   (creates <out-dir>/{checkpoint,tokenizer_load,
// tokenizer_encode}/). The real model is found by llm::find_model() ($LLM_MODEL_DIR, models/, ../shared/).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../tests/errors/llama2c_files.h"
#include "llm/model_files.h"

namespace fs = std::filesystem;
namespace files = llm::files;

namespace {

int written = 0;

void write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "make_corpus: cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
  ++written;
}

std::optional<std::string> slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Variants every file kind gets: cut in the middle of the header, in the middle of the body, one byte
// short, one byte long.
void variants(const fs::path& dir, const std::string& stem, const std::string& prefix,
              const std::string& bytes) {
  write(dir, stem, prefix + bytes);
  write(dir, stem + "_cut_header", prefix + bytes.substr(0, std::min<std::size_t>(bytes.size(), 10)));
  write(dir, stem + "_cut_half", prefix + bytes.substr(0, bytes.size() / 2));
  write(dir, stem + "_one_short", prefix + bytes.substr(0, bytes.size() - 1));
  write(dir, stem + "_one_long", prefix + bytes + std::string(1, '\x7f'));
}

// The tokenizer_load target reads vocab_size = 259 + (first two bytes, little-endian).
std::string vocab_prefix(std::size_t vocab) {
  const std::size_t n = vocab - 259;
  return std::string{static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus <out-dir>\n");
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path ck_dir = out / "checkpoint", load_dir = out / "tokenizer_load",
                 enc_dir = out / "tokenizer_encode";

  // Synthetic checkpoints: the smallest valid one, tied and with a separate classifier, and bigger shapes.
  const llm::CheckpointHeader tiny = files::tiny_header();
  variants(ck_dir, "tiny_tied", "", files::checkpoint_bytes(tiny));
  llm::CheckpointHeader untied = tiny;
  untied.vocab_size = -tiny.vocab_size;
  variants(ck_dir, "tiny_wcls", "", files::checkpoint_bytes(untied));
  llm::CheckpointHeader gqa = tiny;
  gqa.dim = 8;
  gqa.n_heads = 4;
  gqa.n_kv_heads = 2;
  gqa.n_layers = 2;
  gqa.vocab_size = 6;
  gqa.seq_len = 3;
  variants(ck_dir, "small_gqa", "", files::checkpoint_bytes(gqa));
  {
    std::string huge = files::checkpoint_bytes(tiny);
    files::patch_i32(huge, files::kLayers, 1 << 30);
    write(ck_dir, "huge_layers", huge);
    std::string negative = files::checkpoint_bytes(tiny);
    files::patch_i32(negative, files::kDim, -4);
    write(ck_dir, "negative_dim", negative);
  }

  // Synthetic tokenizers: the minimal byte vocabulary and one with merges.
  const auto minimal = files::tokenizer_pieces();
  const auto merged = files::tokenizer_pieces(files::sample_merges());
  variants(load_dir, "minimal", vocab_prefix(minimal.size()), files::tokenizer_bytes(minimal));
  variants(load_dir, "merges", vocab_prefix(merged.size()), files::tokenizer_bytes(merged));
  // A checkpoint offered as a tokenizer and the other way round.
  write(load_dir, "checkpoint_as_tokenizer", vocab_prefix(259) + files::checkpoint_bytes(tiny));
  write(ck_dir, "tokenizer_as_checkpoint", files::tokenizer_bytes(merged));

  // Texts for encode: ASCII, multi-byte UTF-8, malformed UTF-8, text that looks like a byte piece.
  const std::vector<std::string> texts = {
      "",
      " ",
      "Once upon a time",
      "Once upon a time, there was a little girl named Lily.\nShe liked the sun.",
      "the abc one",
      "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82",
      "\xff\xfe\x80\xC3(\xE2\x82\xF0\x9F\x99",
      "<0x41><s></s><unk>",
      std::string("\0\1\2 tab\tnl\n", 11),
      "  double  spaces  ",
      std::string(300, 'a')};
  for (std::size_t i = 0; i < texts.size(); ++i) write(enc_dir, "text_" + std::to_string(i), texts[i]);

  // The real files, when present.
  if (const auto model = llm::find_model()) {
    const auto ckpt = slurp(model->checkpoint);
    const auto tok = slurp(model->tokenizer);
    if (ckpt && tok) {
      variants(ck_dir, "stories260K", "", *ckpt);
      variants(load_dir, "tok512", vocab_prefix(512), *tok);
      write(ck_dir, "tok512_as_checkpoint", *tok);
      write(load_dir, "stories260K_head_as_tokenizer", vocab_prefix(512) + ckpt->substr(0, 8192));
      std::printf("make_corpus: real files from %s\n", model->directory.c_str());
    }
  } else {
    std::printf("make_corpus: stories260K not found; synthetic seeds only\n");
  }
  std::printf("make_corpus: %d seed files in %s\n", written, out.c_str());
  return 0;
}
