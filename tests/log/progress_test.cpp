// Progress line text, in-place rewriting, and silence when disabled.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "primus/log/progress.hpp"

namespace primus::log {
namespace {

std::string contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text.push_back(static_cast<char>(c));
  return text;
}

TEST(Progress, FormatsEta) {
  // 90 iterations left at 1.5 s each: 135 s = 00:02:15.
  EXPECT_EQ(format_progress(10, 100, 8.76543, 1234.56, 1.5), "iteration 10/100 | loss 8.7654 | 1234.6 tokens/s | ETA 00:02:15");
  EXPECT_EQ(format_progress(100, 100, 1.0, 1.0, 2.0), "iteration 100/100 | loss 1.0000 | 1.0 tokens/s | ETA 00:00:00");
  EXPECT_EQ(format_progress(0, 3600, 1.0, 1.0, 3.0), "iteration 0/3600 | loss 1.0000 | 1.0 tokens/s | ETA 03:00:00");
}

TEST(Progress, RewritesOneLineWhenEnabled) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  ProgressDisplay display(4, file, true);
  display.update(1, 2.0, 10.0, 1.0);
  display.update(2, 1.5, 20.0, 1.0);
  display.finish();
  display.finish();  // only one newline
  EXPECT_EQ(contents(file),
            "\riteration 1/4 | loss 2.0000 | 10.0 tokens/s | ETA 00:00:03\x1b[K"
            "\riteration 2/4 | loss 1.5000 | 20.0 tokens/s | ETA 00:00:02\x1b[K\n");
  std::fclose(file);
}

TEST(Progress, SilentWhenDisabled) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  ProgressDisplay display(4, file, false);
  display.update(1, 2.0, 10.0, 1.0);
  display.finish();
  EXPECT_EQ(contents(file), "");
  std::fclose(file);
  EXPECT_FALSE(ProgressDisplay(4, nullptr, true).enabled());
}

}  // namespace
}  // namespace primus::log
