// Crash-safe file writing for checkpoints: files written with write(2) and
// fsync'd, directory fsync, and whole-file replacement via temp + rename.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string_view>

namespace primus::checkpoint {

// Called after each chunk written to a checkpoint file with the bytes written to that file so far (test hook).
using BytesWrittenObserver = std::function<void(std::uint64_t bytes_written)>;

// A file opened for writing from scratch; sync_and_close() makes it durable. Closes (without sync) on destruction.
class DurableFile {
 public:
  // Creates or truncates `path`; throws naming the path on failure.
  explicit DurableFile(std::filesystem::path path, BytesWrittenObserver observer = {});
  ~DurableFile();
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;

  // Appends all of `bytes`, retrying short writes; throws naming the path on failure.
  void write(std::span<const std::byte> bytes);
  // Appends a string's bytes.
  void write(std::string_view text);
  // fsync then close; throws naming the path on failure.
  void sync_and_close();
  // Bytes written so far.
  std::uint64_t size() const { return bytes_written_; }

 private:
  std::filesystem::path path_;
  BytesWrittenObserver observer_;
  int fd_ = -1;
  std::uint64_t bytes_written_ = 0;
};

// fsync a directory so that entries created or renamed in it survive a crash.
void fsync_directory(const std::filesystem::path& directory);

// Replaces `path` with `contents` atomically: write `path`.tmp.<pid>, fsync, rename over `path`, fsync the parent.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace primus::checkpoint
