// text_stream.cpp — incremental decoding for the server: stop strings and UTF-8 hold-back.
#include "text_stream.h"

#include <algorithm>
#include <utility>

namespace llm::serve {

namespace {

// Bytes a UTF-8 lead byte announces (1 for ASCII), or 0 for a byte that cannot start a character.
std::size_t utf8_sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

// The end of `text`'s longest prefix in [from, end) that does not finish in the middle of a character:
// a trailing lead byte still waiting for its continuation bytes is held back. Malformed bytes are not
// held (no later byte can repair them); the JSON writer turns them into U+FFFD.
std::size_t complete_utf8_end(const std::string& text, std::size_t from, std::size_t end) {
  for (std::size_t back = 1; back <= 3 && back <= end - from; ++back) {
    const auto c = static_cast<unsigned char>(text[end - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: its lead byte is further back
    const std::size_t need = utf8_sequence_length(c);
    return need > back ? end - back : end;  // a lead byte whose character is not complete yet
  }
  return end;
}

}  // namespace

TextStream::TextStream(const Tokenizer& tokenizer, std::int32_t last_prompt_token,
                       std::vector<std::string> stops)
    : tokenizer_(&tokenizer), prev_(last_prompt_token), stops_(std::move(stops)) {}

bool TextStream::add(std::int32_t token) {
  if (stopped_ || token == Tokenizer::kBos) return stopped_;
  text_ += tokenizer_->decode_piece(prev_, token);
  prev_ = token;
  // A match cannot start before sent_: take_ready() never hands out a byte that may begin one.
  std::size_t cut = std::string::npos;
  for (const std::string& stop : stops_) cut = std::min(cut, text_.find(stop, sent_));
  if (cut == std::string::npos) return false;
  text_.resize(cut);
  stopped_ = true;
  return true;
}

std::string TextStream::take_ready() {
  std::size_t end = text_.size();
  if (!stopped_) {
    // Hold back the earliest tail that a stop string begins with: the next token may complete it.
    for (const std::string& stop : stops_) {
      const std::size_t longest = std::min(stop.size() - 1, text_.size() - sent_);
      for (std::size_t n = longest; n > 0; --n) {
        if (text_.compare(text_.size() - n, n, stop, 0, n) == 0) {
          end = std::min(end, text_.size() - n);
          break;
        }
      }
    }
    end = complete_utf8_end(text_, sent_, end);
  }
  std::string ready = text_.substr(sent_, end - sent_);
  sent_ = end;
  return ready;
}

std::string TextStream::take_rest() {
  std::string rest = text_.substr(sent_);
  sent_ = text_.size();
  return rest;
}

}  // namespace llm::serve
