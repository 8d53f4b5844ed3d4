// Scalar typing (YAML 1.2 core), Primus's retyping of substituted values, and flow rendering.
#include <gtest/gtest.h>

#include <cmath>

#include "primus/config/value.hpp"
#include "primus/config/yaml_reader.hpp"

namespace primus::config {
namespace {

TEST(ValueTest, PlainScalarsAreTypedLikeYaml12Core) {
  EXPECT_EQ(parse_plain_scalar("true").kind, ValueKind::Bool);
  EXPECT_FALSE(parse_plain_scalar("False").bool_value);
  EXPECT_EQ(parse_plain_scalar("null").kind, ValueKind::Null);
  EXPECT_EQ(parse_plain_scalar("~").kind, ValueKind::Null);
  EXPECT_EQ(parse_plain_scalar("").kind, ValueKind::Null);
  EXPECT_EQ(parse_plain_scalar("42").int_value, 42);
  EXPECT_EQ(parse_plain_scalar("-7").int_value, -7);
  EXPECT_EQ(parse_plain_scalar("0x1F").int_value, 31);
  Value scientific = parse_plain_scalar("1e-5");  // a string in YAML 1.1 / PyYAML, a float here
  EXPECT_EQ(scientific.kind, ValueKind::Float);
  EXPECT_DOUBLE_EQ(scientific.float_value, 1e-5);
  EXPECT_DOUBLE_EQ(parse_plain_scalar("1.0e-5").float_value, 1e-5);
  EXPECT_DOUBLE_EQ(parse_plain_scalar("3.").float_value, 3.0);
  EXPECT_TRUE(std::isinf(parse_plain_scalar("-.inf").float_value));
  EXPECT_EQ(parse_plain_scalar("yes").kind, ValueKind::String);  // YAML 1.1 booleans are strings in 1.2
  EXPECT_EQ(parse_plain_scalar("1.2.3").kind, ValueKind::String);
  EXPECT_EQ(parse_plain_scalar("RMSNorm").string_value, "RMSNorm");
}

TEST(ValueTest, HugeIntegersBecomeFloatsInsteadOfOverflowing) {
  Value huge = parse_plain_scalar("123456789012345678901234567890");
  EXPECT_EQ(huge.kind, ValueKind::Float);
  EXPECT_NEAR(huge.float_value, 1.2345678901234568e29, 1e15);
  EXPECT_EQ(parse_plain_scalar("0xFFFFFFFFFFFFFFFFFFFF").string_value, "0xFFFFFFFFFFFFFFFFFFFF");
}

TEST(ValueTest, RetypingFollowsPrimus) {
  EXPECT_EQ(retype_substituted("TRUE").kind, ValueKind::Bool);  // any case, as Primus lowers first
  EXPECT_EQ(retype_substituted("8").int_value, 8);
  EXPECT_DOUBLE_EQ(retype_substituted(".5").float_value, 0.5);
  EXPECT_DOUBLE_EQ(retype_substituted("1e5").float_value, 1e5);
  EXPECT_EQ(retype_substituted("null").kind, ValueKind::String);  // Primus does not retype null
  EXPECT_EQ(retype_substituted("+3").kind, ValueKind::String);    // its int pattern allows only '-'
  EXPECT_EQ(retype_substituted("/data/x").string_value, "/data/x");
}

TEST(ValueTest, FlowYamlReadsBackToTheSameValue) {
  const char* texts[] = {"3", "1.0e-05", "0.5", "3.0", "true", "null", "abc", "\"3\"", "\"\"", "\"a: b\"",
                         "[a, 1, [2.5, null]]", "{k: v, n: 2}", "\"true\"", "\"with \\\"quote\\\"\""};
  for (const char* text : texts) {
    Value original = read_yaml_text(std::string("v: ") + text, "t").map.at("v");
    Value again = read_yaml_text("v: " + to_flow_yaml(original), "t").map.at("v");
    EXPECT_TRUE(original.same_content(again)) << text << " rendered as " << to_flow_yaml(original);
  }
  EXPECT_EQ(to_flow_yaml(Value::floating(3.0)), "3.0");
  EXPECT_EQ(to_flow_yaml(Value::string("3")), "\"3\"");
}

TEST(ValueTest, SameContentDistinguishesIntFromFloat) {
  EXPECT_FALSE(Value::integer(1).same_content(Value::floating(1.0)));
  EXPECT_TRUE(Value::integer(1).same_content(Value::integer(1, {"elsewhere", 3, 4})));
}

}  // namespace
}  // namespace primus::config
