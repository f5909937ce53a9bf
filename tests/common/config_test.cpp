// config_test.cpp — llm::ModelConfig: the presets' values and every rule of validate().
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "llm/config.h"
#include "llm/errors.h"
#include "test_support.h"

using llm::InvalidArgument;
using llm::ModelConfig;

TEST_SUITE_BEGIN("config");

TEST_CASE("config lesson preset has the course values") {
  const ModelConfig c = ModelConfig::lesson();
  INFO("ModelConfig::lesson() must match the course's lesson config");
  CHECK(c.vocab_size == 1000);
  CHECK(c.hidden_size == 128);
  CHECK(c.intermediate_size == 256);
  CHECK(c.num_hidden_layers == 2);
  CHECK(c.num_attention_heads == 4);
  CHECK(c.num_key_value_heads == 2);
  CHECK(c.max_position_embeddings == 256);
  CHECK(c.rope_theta == 10000.0f);
  CHECK(c.rms_norm_eps == 1e-6f);
  CHECK(c.head_dim() == 32);             // 128 / 4
  CHECK(c.num_key_value_groups() == 2);  // 4 / 2
  CHECK_NOTHROW(c.validate());
}

TEST_CASE("config stories260k preset matches the checkpoint") {
  const ModelConfig c = ModelConfig::stories260k();
  INFO("ModelConfig::stories260k() must match llama2.c's stories260K: dim 64 hidden 172 5 layers 8/4 heads");
  CHECK(c.hidden_size == 64);
  CHECK(c.intermediate_size == 172);
  CHECK(c.num_hidden_layers == 5);
  CHECK(c.num_attention_heads == 8);
  CHECK(c.num_key_value_heads == 4);
  CHECK(c.vocab_size == 512);
  CHECK(c.max_position_embeddings == 512);
  CHECK(c.rms_norm_eps == 1e-5f);
  CHECK(c.head_dim() == 8);              // 64 / 8
  CHECK(c.num_key_value_groups() == 2);  // 8 / 4
  CHECK_NOTHROW(c.validate());
}

TEST_CASE("config tiny preset validates") {
  const ModelConfig c = ModelConfig::tiny();
  INFO("ModelConfig::tiny() must be a valid small config: vocab 64 hidden 32 2 layers 4/2 heads");
  CHECK_NOTHROW(c.validate());
  CHECK(c.vocab_size == 64);
  CHECK(c.hidden_size == 32);
  CHECK(c.num_hidden_layers == 2);
  CHECK(c.num_attention_heads == 4);
  CHECK(c.num_key_value_heads == 2);
  CHECK(c.head_dim() == 8);  // 32 / 4
}

TEST_CASE("config validate rejects hidden size not divisible by heads") {
  ModelConfig c = ModelConfig::lesson();
  c.hidden_size = 130;  // 130 / 4 = 32.5
  INFO("validate() must reject hidden_size % num_attention_heads != 0 and name both values");
  CHECK_THROWS_AS(c.validate(), InvalidArgument);
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("hidden_size = 130"), InvalidArgument);
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("num_attention_heads = 4"), InvalidArgument);
}

TEST_CASE("config validate rejects heads not divisible by kv heads") {
  ModelConfig c = ModelConfig::lesson();
  c.num_key_value_heads = 3;  // 4 % 3 = 1: query heads cannot be shared evenly
  INFO("validate() must reject num_attention_heads % num_key_value_heads != 0 and name both values");
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("num_key_value_heads = 3"), InvalidArgument);
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("num_attention_heads = 4"), InvalidArgument);
}

TEST_CASE("config validate rejects sizes that are not positive") {
  struct Field {
    const char* name;
    int ModelConfig::*member;
  };
  const std::vector<Field> fields = {
      {"vocab_size", &ModelConfig::vocab_size},
      {"hidden_size", &ModelConfig::hidden_size},
      {"intermediate_size", &ModelConfig::intermediate_size},
      {"num_hidden_layers", &ModelConfig::num_hidden_layers},
      {"num_attention_heads", &ModelConfig::num_attention_heads},
      {"num_key_value_heads", &ModelConfig::num_key_value_heads},
      {"max_position_embeddings", &ModelConfig::max_position_embeddings},
  };
  INFO("validate() must reject every size field <= 0 with InvalidArgument naming the field");
  for (const Field& f : fields) {
    for (int value : {0, -1, -128}) {
      ModelConfig c = ModelConfig::lesson();
      c.*(f.member) = value;
      // check_positive's message: "<field> = <value> must be > 0".
      const std::string expected = std::string(f.name) + " = " + std::to_string(value);
      CAPTURE(expected);
      CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains(expected.c_str()), InvalidArgument);
    }
  }
}

TEST_CASE("config validate rejects a bad rms_norm_eps") {
  INFO("validate() must reject rms_norm_eps that is 0 negative NaN or infinite");
  for (float eps :
       {0.0f, -1e-6f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    ModelConfig c = ModelConfig::lesson();
    c.rms_norm_eps = eps;
    CAPTURE(eps);
    CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("rms_norm_eps"), InvalidArgument);
  }
}

TEST_CASE("config validate rejects a bad rope_theta") {
  INFO("validate() must reject rope_theta <= 0 or not finite");
  for (float theta :
       {0.0f, -10000.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    ModelConfig c = ModelConfig::lesson();
    c.rope_theta = theta;
    CAPTURE(theta);
    CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("rope_theta"), InvalidArgument);
  }
}

TEST_CASE("config validate rejects an odd head_dim") {
  ModelConfig c = ModelConfig::lesson();
  c.hidden_size = 12;  // 12 / 4 heads = head_dim 3: RoPE needs pairs of dimensions
  REQUIRE(c.head_dim() == 3);
  INFO("validate() must reject an odd head_dim and name it");
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("head_dim"), InvalidArgument);
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("= 3"), InvalidArgument);
}

TEST_CASE("config validate rejects special token ids outside the vocabulary") {
  INFO("validate() must reject bos/eos ids outside [0, vocab_size)");
  ModelConfig c = ModelConfig::lesson();
  c.bos_token_id = 1000;  // == vocab_size
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("bos_token_id"), InvalidArgument);
  c = ModelConfig::lesson();
  c.eos_token_id = -1;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("eos_token_id"), InvalidArgument);
}

TEST_CASE("config summary names the main sizes") {
  const std::string s = ModelConfig::lesson().summary();
  INFO("summary() must be one line naming vocab hidden and head_dim; got: " << s);
  CHECK(s.find("vocab 1000") != std::string::npos);
  CHECK(s.find("hidden 128") != std::string::npos);
  CHECK(s.find("head_dim 32") != std::string::npos);
  CHECK(s.find('\n') == std::string::npos);
}

TEST_CASE("config qwen2_5_0_5b preset is the course's large config") {
  const llm::ModelConfig c = llm::ModelConfig::qwen2_5_0_5b();
  CHECK_NOTHROW(c.validate());
  CHECK_MESSAGE(c.head_dim() == 64, "896 / 14 heads = head_dim 64");
  CHECK_MESSAGE(c.num_key_value_groups() == 7, "14 query heads share 2 KV heads: groups of 7");
  // Its parameter count (494,005,120 without biases) is lesson 05's exercise, tested there.
}

TEST_SUITE_END();  // config
