// Megatron-LM flags -> YAML keys: dest exceptions, store_false, lists, typing, errors.
#include <gtest/gtest.h>

#include "primus/migrate/argument_mapping.hpp"
#include "primus/migrate/megatron_flags.hpp"

namespace primus::migrate {
namespace {

std::string text_of(const MappedArguments& m, const std::string& key) {
  auto it = m.keys.find(key);
  return it == m.keys.end() ? "<absent>" : display_value(it->second);
}

ScalarKind kind_of(const MappedArguments& m, const std::string& key) { return m.keys.at(key).items.front().kind; }

TEST(MegatronFlags, TableIsSortedAndHasTheDestExceptions) {
  auto flags = megatron_flags();
  ASSERT_GT(flags.size(), 500u);
  for (size_t i = 1; i < flags.size(); ++i) EXPECT_LT(flags[i - 1].flag, flags[i].flag);
  struct Expected {
    const char* flag;
    const char* dest;
    FlagAction action;
  };
  // From Megatron-LM's arguments.py (dest= and store_false declarations).
  for (const auto& e : {Expected{"--norm-epsilon", "norm_epsilon", FlagAction::Value},
                        Expected{"--disable-bias-linear", "add_bias_linear", FlagAction::StoreFalse},
                        Expected{"--fp8-format", "fp8", FlagAction::Value},
                        Expected{"--use-mcore-models", "deprecated_use_mcore_models", FlagAction::StoreTrue},
                        Expected{"--no-position-embedding", "add_position_embedding", FlagAction::StoreFalse},
                        Expected{"--no-rope-fusion", "apply_rope_fusion", FlagAction::StoreFalse},
                        Expected{"--no-masked-softmax-fusion", "masked_softmax_fusion", FlagAction::StoreFalse},
                        Expected{"--no-bias-swiglu-fusion", "bias_swiglu_fusion", FlagAction::StoreFalse},
                        Expected{"--data-path", "data_path", FlagAction::List}}) {
    const MegatronFlag* f = find_megatron_flag(e.flag);
    ASSERT_NE(f, nullptr) << e.flag;
    EXPECT_EQ(f->dest, e.dest) << e.flag;
    EXPECT_EQ(f->action, e.action) << e.flag;
  }
  EXPECT_EQ(find_megatron_flag("--not-a-megatron-flag"), nullptr);
  ASSERT_NE(find_megatron_flag_by_dest("add_bias_linear"), nullptr);
}

TEST(ArgumentMapping, DestExceptionsAndStoreFalseFlags) {
  auto m = map_megatron_arguments({"--norm-epsilon", "1e-6", "--disable-bias-linear", "--fp8-format", "hybrid",
                                   "--apply-layernorm-1p", "--untie-embeddings-and-output-weights", "--use-mcore-models",
                                   "--swiglu", "--group-query-attention", "--num-query-groups", "8",
                                   "--position-embedding-type", "rope", "--use-rotary-position-embeddings",
                                   "--no-masked-softmax-fusion", "--no-bias-swiglu-fusion", "--no-rope-fusion", "--bf16"});
  EXPECT_TRUE(m.unmapped.empty());
  EXPECT_EQ(text_of(m, "norm_epsilon"), "1.0e-06");
  EXPECT_EQ(text_of(m, "add_bias_linear"), "false");
  EXPECT_EQ(text_of(m, "fp8"), "hybrid");
  EXPECT_EQ(text_of(m, "apply_layernorm_1p"), "true");
  EXPECT_EQ(text_of(m, "untie_embeddings_and_output_weights"), "true");
  EXPECT_EQ(text_of(m, "deprecated_use_mcore_models"), "true");
  EXPECT_EQ(text_of(m, "swiglu"), "true");
  EXPECT_EQ(text_of(m, "group_query_attention"), "true");
  EXPECT_EQ(text_of(m, "num_query_groups"), "8");
  EXPECT_EQ(kind_of(m, "num_query_groups"), ScalarKind::Int);
  EXPECT_EQ(text_of(m, "position_embedding_type"), "rope");
  EXPECT_EQ(text_of(m, "use_rotary_position_embeddings"), "true");
  EXPECT_EQ(text_of(m, "masked_softmax_fusion"), "false");
  EXPECT_EQ(text_of(m, "bias_swiglu_fusion"), "false");
  EXPECT_EQ(text_of(m, "apply_rope_fusion"), "false");
  EXPECT_EQ(text_of(m, "bf16"), "true");
  EXPECT_EQ(kind_of(m, "bf16"), ScalarKind::Bool);
}

TEST(ArgumentMapping, ListsInlineValuesAndTyping) {
  auto m = map_megatron_arguments({"--data-path", "0.3", "/d/a_text", "0.7", "/d/b_text", "--split=949,50,1",
                                   "--lr", "3e-4", "--micro-batch-size", "2", "--rampup-batch-size", "16", "16", "5859375",
                                   "--lr-warmup-fraction", ".001", "--tokenizer-model", "1234"});
  EXPECT_TRUE(m.unmapped.empty());
  ASSERT_TRUE(m.keys.at("data_path").is_list);
  EXPECT_EQ(text_of(m, "data_path"), "[0.3, /d/a_text, 0.7, /d/b_text]");
  EXPECT_EQ(m.keys.at("data_path").items[1].kind, ScalarKind::String);
  EXPECT_EQ(text_of(m, "split"), "949,50,1");
  EXPECT_EQ(kind_of(m, "split"), ScalarKind::String);
  EXPECT_EQ(text_of(m, "lr"), "3.0e-04");
  EXPECT_EQ(kind_of(m, "lr"), ScalarKind::Float);
  EXPECT_EQ(kind_of(m, "micro_batch_size"), ScalarKind::Int);
  EXPECT_EQ(text_of(m, "rampup_batch_size"), "[16, 16, 5859375]");
  EXPECT_EQ(text_of(m, "lr_warmup_fraction"), "0.001");
  // type=str keeps digits as a string.
  EXPECT_EQ(kind_of(m, "tokenizer_model"), ScalarKind::String);
}

TEST(ArgumentMapping, UnknownFlagsBadValuesAndPositionalsAreReportedNotDropped) {
  auto m = map_megatron_arguments({"--num-layers", "32", "--enable-custom-rocm-kernels", "1", "2", "--hidden-size", "big",
                                   "stray", "--seq-length"});
  EXPECT_EQ(text_of(m, "num_layers"), "32");
  EXPECT_EQ(m.keys.count("hidden_size"), 0u);
  ASSERT_EQ(m.unmapped.size(), 4u);
  EXPECT_EQ(m.unmapped[0].text, "--enable-custom-rocm-kernels 1 2");
  EXPECT_NE(m.unmapped[0].reason.find("not a Megatron-LM flag"), std::string::npos);
  EXPECT_NE(m.unmapped[1].reason.find("expected an integer"), std::string::npos);
  EXPECT_NE(m.unmapped[1].reason.find("big"), std::string::npos);
  EXPECT_EQ(m.unmapped[2].text, "stray");
  EXPECT_EQ(m.unmapped[3].text, "--seq-length");
  EXPECT_NE(m.unmapped[3].reason.find("expects a value"), std::string::npos);
}

TEST(ArgumentMapping, NoFormOfABooleanFlagMegatronDerivesIsFalse) {
  ASSERT_EQ(find_megatron_flag("--no-overlap-grad-reduce"), nullptr);  // not in the table: the derived form
  auto m = map_megatron_arguments({"--overlap-grad-reduce", "--no-overlap-grad-reduce", "--no-such-thing"});
  EXPECT_EQ(text_of(m, "overlap_grad_reduce"), "false");
  ASSERT_EQ(m.unmapped.size(), 1u);
  EXPECT_EQ(m.unmapped[0].text, "--no-such-thing");
}

TEST(ArgumentMapping, LastOfARepeatedFlagWins) {
  auto m = map_megatron_arguments({"--lr", "1e-4", "--lr", "2e-4"});
  EXPECT_EQ(text_of(m, "lr"), "2.0e-04");
}

TEST(ArgValue, FloatsAreWrittenSoYaml11ReadersSeeFloats) {
  EXPECT_EQ(format_float(1e-5), "1.0e-05");
  EXPECT_EQ(format_float(0.1), "0.1");
  EXPECT_EQ(format_float(3.0), "3.0");
  EXPECT_EQ(format_float(1.5e20), "1.5e+20");
  EXPECT_EQ(format_float(6e-5), "6.0e-05");
}

TEST(ArgValue, NumbersCompareNumerically) {
  EXPECT_TRUE(same_scalar(scalar_from_text("8"), scalar_from_text("8.0")));
  EXPECT_TRUE(same_scalar(scalar_from_text("1e-05"), scalar_from_text("1.0e-05")));
  EXPECT_FALSE(same_scalar(scalar_from_text("8"), scalar_from_text("9")));
  EXPECT_FALSE(same_scalar(scalar_from_text("true"), {ScalarKind::String, "true"}));
}

}  // namespace
}  // namespace primus::migrate
