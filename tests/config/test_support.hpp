// Helpers for the config tests: fixture paths, scoped environment variables,
// throw-away YAML files, and a check that a call throws ConfigError with given text.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>

#include "primus/config/config_error.hpp"

namespace primus::config::testing {

inline std::filesystem::path fixtures() { return std::filesystem::path(PRIMUS_TEST_DATA_DIR) / "config" / "fixtures"; }
inline std::filesystem::path fixture_root() { return fixtures() / "root"; }
inline std::filesystem::path experiment(const std::string& name) { return fixtures() / "experiments" / name; }

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value) ::setenv(name_.c_str(), value->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// A fresh temporary folder, removed with its files at the end of the scope.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "primus_config_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Every test that resolves experiments points PRIMUS_CONFIG_ROOT at the fixture zoo.
class FixtureRootTest : public ::testing::Test {
 protected:
  ScopedEnv config_root_{"PRIMUS_CONFIG_ROOT", fixture_root().string()};
  ScopedEnv world_size_{"WORLD_SIZE", std::nullopt};
  ScopedEnv ompi_world_size_{"OMPI_COMM_WORLD_SIZE", std::nullopt};
};

// The message of the ConfigError that `call` throws ("" and a test failure when it throws none).
inline std::string config_error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

inline void expect_contains(const std::string& text, std::initializer_list<std::string> parts) {
  for (const auto& part : parts) EXPECT_NE(text.find(part), std::string::npos) << "missing '" << part << "' in:\n" << text;
}

}  // namespace primus::config::testing
