// Reads an event file back with the independent decoder of event_file_reader.hpp
// (TFRecord framing, a bit-by-bit CRC-32C, a generic protobuf walker) and checks every field.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>

#include "primus/log/tensorboard.hpp"
#include "event_file_reader.hpp"

namespace primus::log {
namespace {

using testing::DecodedScalar;
using testing::decode_scalar_event;
using testing::parse_message;
using testing::read_records;

TEST(TensorBoard, EventFileDecodesBack) {
  const auto directory = std::filesystem::temp_directory_path() / ("primus_tb_" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory);
  const double before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::filesystem::path path;
  {
    TensorBoardWriter writer(directory);
    path = writer.path();
    writer.add_scalar("lm loss", 8.5, 1);
    const std::vector<std::pair<std::string, double>> batch = {{"learning-rate", 3e-4}, {"grad-norm", 1.25}};
    writer.add_scalars(300, batch);
    writer.add_scalar("iteration-time", -0.5, 1LL << 40);
    // Flushed on every batch: the file is complete while the writer is still open.
    EXPECT_EQ(read_records(path).size(), 5u);
  }
  char hostname[256] = {};
  ::gethostname(hostname, sizeof hostname - 1);
  EXPECT_TRUE(std::regex_match(path.filename().string(), std::regex(R"(events\.out\.tfevents\.\d{10}\.)" + std::string(hostname))))
      << path;

  const auto records = read_records(path);
  ASSERT_EQ(records.size(), 5u);
  const auto version = parse_message(records[0]);
  ASSERT_EQ(version.size(), 2u);
  EXPECT_EQ(version[0].number, 1u);
  EXPECT_EQ(version[1].number, 3u);
  EXPECT_EQ(version[1].bytes, "brain.Event:2");

  const DecodedScalar loss = decode_scalar_event(records[1]);
  EXPECT_EQ(loss.tag, "lm loss");
  EXPECT_EQ(loss.value, 8.5f);
  EXPECT_EQ(loss.step, 1);
  EXPECT_GE(loss.wall_time, before - 1.0);
  EXPECT_LE(loss.wall_time, before + 60.0);
  const DecodedScalar lr = decode_scalar_event(records[2]);
  EXPECT_EQ(lr.tag, "learning-rate");
  EXPECT_EQ(lr.value, 3e-4f);
  EXPECT_EQ(lr.step, 300);
  EXPECT_EQ(decode_scalar_event(records[3]).tag, "grad-norm");
  const DecodedScalar big = decode_scalar_event(records[4]);
  EXPECT_EQ(big.step, 1LL << 40);
  EXPECT_EQ(big.value, -0.5f);
  std::filesystem::remove_all(directory);
}

TEST(TensorBoard, PointsKeepTheirOwnSteps) {
  const auto directory = std::filesystem::temp_directory_path() / ("primus_tb_points_" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory);
  std::filesystem::path path;
  {
    TensorBoardWriter writer(directory);
    path = writer.path();
    const std::vector<ScalarPoint> points = {{"lm loss", 3.0, 10}, {"lm loss vs samples", 3.0, 320}};
    writer.add_points(points);
  }
  const auto records = read_records(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(decode_scalar_event(records[1]).step, 10);
  EXPECT_EQ(decode_scalar_event(records[2]).step, 320);
  EXPECT_EQ(decode_scalar_event(records[2]).tag, "lm loss vs samples");
  std::filesystem::remove_all(directory);
}

TEST(TensorBoard, ScalarEventBytesMatchHandEncoding) {
  // Event{wall_time=1.0, step=3, summary{value{tag="a", simple_value=2.0}}}, encoded by hand.
  const std::string expected("\x09\x00\x00\x00\x00\x00\x00\xf0\x3f"  // field 1, fixed64: 1.0
                             "\x10\x03"                                // field 2, varint: 3
                             "\x2a\x0a"                                // field 5, 10 bytes
                             "\x0a\x08"                                // Summary.value, 8 bytes
                             "\x0a\x01" "a"                            // tag "a"
                             "\x15\x00\x00\x00\x40",                   // simple_value 2.0f
                             23);
  EXPECT_EQ(encode_scalar_event(1.0, 3, "a", 2.0f), expected);
}

}  // namespace
}  // namespace primus::log
