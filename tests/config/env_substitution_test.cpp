// ${VAR} / ${VAR:default} substitution and Primus's retyping of substituted values.
#include <gtest/gtest.h>

#include "primus/config/env_substitution.hpp"
#include "primus/config/inheritance.hpp"
#include "primus/config/yaml_reader.hpp"
#include "test_support.hpp"

namespace primus::config {
namespace {

using testing::config_error_of;
using testing::expect_contains;
using testing::ScopedEnv;
using testing::TempDir;

Value substituted(const std::string& text) {
  Value tree = read_yaml_text(text, "env.yaml");
  substitute_env(tree);
  return tree;
}

TEST(EnvSubstitutionTest, SubstitutedValuesAreRetyped) {
  ScopedEnv layers("PRIMUS_TEST_LAYERS", "12");
  ScopedEnv lr("PRIMUS_TEST_LR", "3e-4");
  ScopedEnv flag("PRIMUS_TEST_FLAG", "False");
  ScopedEnv path("PRIMUS_TEST_PATH", "/data");
  Value tree = substituted(
      "layers: ${PRIMUS_TEST_LAYERS}\nlr: ${PRIMUS_TEST_LR}\nflag: ${PRIMUS_TEST_FLAG}\n"
      "embedded: ${PRIMUS_TEST_PATH}/tokens\nuntouched: '12'\nlist: [\"${PRIMUS_TEST_LAYERS}\", x]\n");
  EXPECT_EQ(tree.map.at("layers").kind, ValueKind::Int);
  EXPECT_EQ(tree.map.at("layers").int_value, 12);
  EXPECT_EQ(tree.map.at("lr").kind, ValueKind::Float);
  EXPECT_DOUBLE_EQ(tree.map.at("lr").float_value, 3e-4);
  EXPECT_EQ(tree.map.at("flag").kind, ValueKind::Bool);
  EXPECT_FALSE(tree.map.at("flag").bool_value);
  EXPECT_EQ(tree.map.at("embedded").string_value, "/data/tokens");
  EXPECT_EQ(tree.map.at("untouched").kind, ValueKind::String);  // no substitution: stays a string
  EXPECT_EQ(tree.map.at("list").list[0].int_value, 12);
}

TEST(EnvSubstitutionTest, DefaultsApplyOnlyWhenUnset) {
  ScopedEnv set("PRIMUS_TEST_SET", "from_env");
  ScopedEnv unset("PRIMUS_TEST_UNSET", std::nullopt);
  Value tree = substituted("a: ${PRIMUS_TEST_SET:default}\nb: ${PRIMUS_TEST_UNSET:42}\nc: ${PRIMUS_TEST_UNSET:}\n"
                           "d: ${PRIMUS_TEST_UNSET:a:b}\n");
  EXPECT_EQ(tree.map.at("a").string_value, "from_env");
  EXPECT_EQ(tree.map.at("b").int_value, 42);
  EXPECT_EQ(tree.map.at("c").string_value, "");  // empty after substitution: an empty string
  EXPECT_EQ(tree.map.at("d").string_value, "a:b");
}

TEST(EnvSubstitutionTest, NullStaysNull) {
  Value tree = substituted("a: null\nb: ~\n");
  EXPECT_TRUE(tree.map.at("a").is_null());
  EXPECT_TRUE(tree.map.at("b").is_null());
}

TEST(EnvSubstitutionTest, UnsetRequiredVariableNamesVariableAndLocation) {
  ScopedEnv unset("PRIMUS_TEST_REQUIRED", std::nullopt);
  TempDir dir;
  auto file = dir.write("exp.yaml", "exp_name: x\ndata: ${PRIMUS_TEST_REQUIRED}/train\n");
  std::string message = config_error_of([&] { load_config_file(file, {}); });
  expect_contains(message, {"'PRIMUS_TEST_REQUIRED'", file.string() + ":2:1", "not set"});
}

TEST(EnvSubstitutionTest, SubstitutionKeepsTheLocation) {
  ScopedEnv value("PRIMUS_TEST_VALUE", "5");
  Value tree = substituted("\n\nk: ${PRIMUS_TEST_VALUE}\n");
  EXPECT_EQ(tree.map.at("k").location.line, 3);
}

}  // namespace
}  // namespace primus::config
