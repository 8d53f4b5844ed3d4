#include "primus/checkpoint/durable_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <stdexcept>
#include <unistd.h>

namespace primus::checkpoint {

namespace {
// Bound each write(2) so the observer sees progress on large tensors.
constexpr std::size_t kMaxWriteBytes = std::size_t{1} << 20;

[[noreturn]] void throw_errno(std::string_view what, const std::filesystem::path& path) {
  throw std::runtime_error(fmt::format("{} '{}': {}", what, path.string(), std::strerror(errno)));
}
}  // namespace

DurableFile::DurableFile(std::filesystem::path path, BytesWrittenObserver observer)
    : path_(std::move(path)), observer_(std::move(observer)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_errno("cannot create checkpoint file", path_);
}

DurableFile::~DurableFile() {
  if (fd_ >= 0) ::close(fd_);
}

void DurableFile::write(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const std::size_t request = std::min(bytes.size(), kMaxWriteBytes);
    const ssize_t written = ::write(fd_, bytes.data(), request);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write checkpoint file", path_);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(written));
    bytes_written_ += static_cast<std::uint64_t>(written);
    if (observer_) observer_(bytes_written_);
  }
}

void DurableFile::write(std::string_view text) {
  write(std::as_bytes(std::span<const char>(text.data(), text.size())));
}

void DurableFile::sync_and_close() {
  if (::fsync(fd_) != 0) throw_errno("cannot fsync checkpoint file", path_);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw_errno("cannot close checkpoint file", path_);
}

void fsync_directory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open directory for fsync", directory);
  const int result = ::fsync(fd);
  ::close(fd);
  if (result != 0) throw_errno("cannot fsync directory", directory);
}

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  std::filesystem::path temporary = path;
  temporary += fmt::format(".tmp.{}", ::getpid());
  {
    DurableFile file(temporary);
    file.write(contents);
    file.sync_and_close();
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary);
    throw std::runtime_error(
        fmt::format("cannot rename '{}' to '{}': {}", temporary.string(), path.string(), error.message()));
  }
  fsync_directory(path.has_parent_path() ? path.parent_path() : std::filesystem::path("."));
}

}  // namespace primus::checkpoint
