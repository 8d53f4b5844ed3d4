// Command-line override parsing: the accepted forms, typing, locations and malformed arguments.
#include <gtest/gtest.h>

#include "primus/config/overrides.hpp"
#include "test_support.hpp"

namespace primus::config {
namespace {

using testing::config_error_of;
using testing::expect_contains;

TEST(OverridesTest, AllFormsAreAccepted) {
  auto overrides = parse_overrides(
      {"--lr", "3e-4", "--train_iters=10", "seq_length=128", "a.b=x", "--mock_data", "--bf16", "--global-batch-size",
       "64"});
  ASSERT_EQ(overrides.size(), 7u);
  EXPECT_EQ(overrides[0].path, std::vector<std::string>{"lr"});
  EXPECT_EQ(overrides[0].value.kind, ValueKind::Float);
  EXPECT_DOUBLE_EQ(overrides[0].value.float_value, 3e-4);
  EXPECT_EQ(overrides[1].value.int_value, 10);
  EXPECT_EQ(overrides[2].path, std::vector<std::string>{"seq_length"});
  EXPECT_EQ(overrides[3].path, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(overrides[3].value.string_value, "x");
  EXPECT_EQ(overrides[4].value.kind, ValueKind::Bool);  // bare flag followed by another --x
  EXPECT_TRUE(overrides[4].value.bool_value);
  EXPECT_TRUE(overrides[5].value.bool_value);
  EXPECT_EQ(overrides[6].path, std::vector<std::string>{"global_batch_size"});  // Megatron dashes
  EXPECT_EQ(overrides[6].value.int_value, 64);
}

TEST(OverridesTest, BareFlagAtTheEndIsTrue) {
  auto overrides = parse_overrides({"--use_distributed_optimizer"});
  ASSERT_EQ(overrides.size(), 1u);
  EXPECT_TRUE(overrides[0].value.bool_value);
}

TEST(OverridesTest, ValuesAreTypedLikeYaml) {
  auto overrides = parse_overrides({"--data_path", "[a, b]", "--split=969,30,1", "--load", "null", "--name='7'",
                                    "--neg", "-1"});
  ASSERT_EQ(overrides.size(), 5u);
  ASSERT_TRUE(overrides[0].value.is_list());
  EXPECT_EQ(overrides[0].value.list[1].string_value, "b");
  EXPECT_EQ(overrides[1].value.string_value, "969,30,1");
  EXPECT_TRUE(overrides[2].value.is_null());
  EXPECT_EQ(overrides[3].value.string_value, "7");
  EXPECT_EQ(overrides[4].value.int_value, -1);  // "-1" is a value: only "--" starts a key
}

TEST(OverridesTest, LocationIsTheArgumentIndex) {
  auto overrides = parse_overrides({"--lr", "1", "seed=3"});
  EXPECT_EQ(overrides[0].value.location, (SourceLocation{kCommandLine, 0, 1}));
  EXPECT_EQ(overrides[1].value.location, (SourceLocation{kCommandLine, 0, 3}));
  EXPECT_EQ(overrides[1].value.location.str(), "<command line> argument 3");
}

TEST(OverridesTest, MalformedArgumentsAreClearErrors) {
  expect_contains(config_error_of([] { parse_overrides({"=5"}); }), {"argument 1", "'=5'", "no key"});
  expect_contains(config_error_of([] { parse_overrides({"--"}); }), {"'--'", "no key"});
  expect_contains(config_error_of([] { parse_overrides({"--lr", "1", "stray"}); }),
                  {"argument 3", "'stray'", "value with no key"});
  expect_contains(config_error_of([] { parse_overrides({"--=3"}); }), {"no key"});
  expect_contains(config_error_of([] { parse_overrides({"a..b=1"}); }), {"'a..b'", "not a valid key"});
  expect_contains(config_error_of([] { parse_overrides({"--lr", "[1, 2"}); }), {"'[1, 2'", "not valid YAML"});
}

}  // namespace
}  // namespace primus::config
