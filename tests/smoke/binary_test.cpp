// The primus binary starts and prints its help.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

TEST(Binary, HelpListsSubcommands) {
  std::string cmd = std::string(PRIMUS_BINARY) + " --help 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 256> buf{};
  while (fgets(buf.data(), buf.size(), pipe)) out += buf.data();
  int rc = pclose(pipe);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("train"), std::string::npos) << out;
  EXPECT_NE(out.find("migrate"), std::string::npos) << out;
}
