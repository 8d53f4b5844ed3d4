// integer_from_environment: unset and empty give the fallback; an integer in range is read;
// anything else (words, trailing text, out of range, overflow) is an error naming the variable.
#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "primus/config/environment.hpp"

namespace primus::config {
namespace {

constexpr const char* kName = "PRIMUS_ENVIRONMENT_TEST_VALUE";

int read(const char* text) {
  if (text == nullptr) {
    ::unsetenv(kName);
  } else {
    ::setenv(kName, text, 1);
  }
  const int value = integer_from_environment(kName, 7, 0, 24);
  ::unsetenv(kName);
  return value;
}

TEST(IntegerFromEnvironment, UnsetOrEmptyGivesTheFallback) {
  EXPECT_EQ(read(nullptr), 7);
  EXPECT_EQ(read(""), 7);
}

TEST(IntegerFromEnvironment, ReadsAnIntegerInRange) {
  EXPECT_EQ(read("0"), 0);
  EXPECT_EQ(read("24"), 24);
  EXPECT_EQ(read("16"), 16);
}

TEST(IntegerFromEnvironment, AnythingElseIsAnErrorNamingTheVariable) {
  for (const char* bad : {"yes", "off", "12x", "-1", "25", " 3", "99999999999999999999"}) {
    try {
      read(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(kName), std::string::npos) << message;
      EXPECT_NE(message.find(std::string("'") + bad + "'"), std::string::npos) << message;
      EXPECT_NE(message.find("[0, 24]"), std::string::npos) << message;
    }
    ::unsetenv(kName);
  }
}

}  // namespace
}  // namespace primus::config
