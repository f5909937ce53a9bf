// text_stream.h — one answer's text while its tokens arrive: decoded piece by piece, with stop strings
// cut off and nothing sent that could still change — half a UTF-8 character, or the start of a stop
// string. Not here: stop strings that reach back into the prompt (only generated text is searched),
// regular expressions, logprobs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer.h"  // lesson 01 (reference)

namespace llm::serve {

class TextStream {
 public:
  // `last_prompt_token` is the token before the first generated one: after BOS the first piece loses
  // its leading space, exactly as generate prints it (Tokenizer::decode_piece).
  TextStream(const Tokenizer& tokenizer, std::int32_t last_prompt_token, std::vector<std::string> stops);

  // Appends a generated token's text (BOS, the end of a TinyStories story, prints nothing). Returns
  // true when a stop string is now complete: the text is cut just before it and the answer is over.
  bool add(std::int32_t token);

  // What a streaming client may be sent now, each byte once: whole UTF-8 characters that cannot be the
  // beginning of a stop string. Bytes held back come out with a later call or take_rest().
  std::string take_ready();
  // The answer is over (length, end of story, stop string): everything not sent yet.
  std::string take_rest();

  const std::string& text() const { return text_; }  // the whole answer so far, cut at a stop string
  bool stopped() const { return stopped_; }

 private:
  const Tokenizer* tokenizer_;
  std::int32_t prev_;               // the last token added: decides the next piece's leading space
  std::vector<std::string> stops_;  // non-empty strings
  std::string text_;
  std::size_t sent_ = 0;  // text_[0, sent_) has been handed out; no stop string can start before it
  bool stopped_ = false;
};

}  // namespace llm::serve
