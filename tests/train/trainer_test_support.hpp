// Shared pieces of the trainer tests: the tiny fixture experiment built into a
// TrainConfig (in-process runs), the primus binary run as a child process, and
// readers for what a run leaves behind (checkpoint tensors, log lines).
#pragma once

#include <cblas.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../checkpoint/test_directory.hpp"
#include "primus/checkpoint/checkpoint.hpp"
#include "primus/checkpoint/safetensors.hpp"
#include "primus/config/build.hpp"
#include "primus/config/experiment.hpp"
#include "primus/config/render.hpp"
#include "primus/train/trainer.hpp"

namespace primus::train::testing {

using checkpoint::testing::ScratchDirectory;

// The fixture experiment: a ~160k-parameter Llama on mock data, a few ms per iteration.
inline std::filesystem::path tiny_experiment_file() {
  return std::filesystem::path(PRIMUS_TEST_DATA_DIR) / "train" / "fixtures" / "tiny_trainer-pretrain.yaml";
}

// One thread for OpenMP and OpenBLAS: runs are fast on a loaded machine and the same from run to run.
// (Both libraries read their environment variables at load time, so set the counts directly.)
inline void use_one_thread() {
  omp_set_num_threads(1);
  openblas_set_num_threads(1);
  ::setenv("OMP_NUM_THREADS", "1", 1);  // for child processes
  ::setenv("OPENBLAS_NUM_THREADS", "1", 1);
}

// A resolved experiment ready for a Trainer: the typed config and the flat JSON it is saved with.
struct Experiment {
  config::TrainConfig config;
  nlohmann::json resolved;
};

// The fixture with `workspace` and the given command-line overrides ("key=value" or "--key", "value").
inline Experiment tiny_experiment(const std::filesystem::path& workspace, std::vector<std::string> overrides = {}) {
  use_one_thread();
  overrides.insert(overrides.begin(), "workspace=" + workspace.string());
  const auto resolved = config::resolve_experiment(tiny_experiment_file(), overrides);
  return Experiment{config::build_train_config(resolved, config::BuildOptions{}),
                    nlohmann::json::parse(config::render_json(resolved))};
}

// Builds a Trainer for `experiment` and trains it.
inline TrainSummary train(const Experiment& experiment, TrainerHooks hooks = {}) {
  Trainer trainer(experiment.config, experiment.resolved, std::move(hooks));
  return trainer.train();
}

// <workspace>/<work_group>/<user_name>/<exp_name> of the fixture.
inline std::filesystem::path experiment_root(const Experiment& experiment) {
  return experiment_paths(experiment.config).root;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Every tensor of a safetensors file (e.g. <iter_*>/model.safetensors) as raw bytes, by name:
// equal maps mean bitwise-equal tensors.
inline std::map<std::string, std::vector<std::byte>> tensor_bytes(const std::filesystem::path& safetensors_file) {
  const checkpoint::SafetensorsFile file(safetensors_file);
  std::map<std::string, std::vector<std::byte>> tensors;
  for (const auto& info : file.tensors()) {
    const auto bytes = file.bytes(info.name);
    tensors.emplace(info.name, std::vector<std::byte>(bytes.begin(), bytes.end()));
  }
  return tensors;
}

// The iteration directory of `iteration` under a save directory.
inline std::filesystem::path iteration_directory(const std::filesystem::path& checkpoints, std::int64_t iteration) {
  return checkpoints / checkpoint::checkpoint_directory_name(iteration);
}

// Float bit patterns, so that equality means bitwise equality (and NaN == NaN).
inline std::vector<std::uint32_t> bits_of(const std::vector<float>& values) {
  std::vector<std::uint32_t> bits(values.size());
  std::memcpy(bits.data(), values.data(), values.size() * sizeof(float));
  return bits;
}
inline std::uint32_t bits_of(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// Per-iteration losses of a summary, in order.
inline std::vector<float> losses_of(const TrainSummary& summary) {
  std::vector<float> losses;
  for (const auto& record : summary.iterations) losses.push_back(record.lm_loss);
  return losses;
}

// The primus binary running as a child process, its stdout and stderr going to `output_file`.
class PrimusProcess {
 public:
  PrimusProcess(const std::vector<std::string>& args, const std::filesystem::path& output_file) {
    use_one_thread();
    std::vector<std::string> argv_strings = {PRIMUS_BINARY};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const int error = ::posix_spawn(&pid_, PRIMUS_BINARY, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) throw std::runtime_error(std::string("cannot start " PRIMUS_BINARY ": ") + std::strerror(error));
  }
  ~PrimusProcess() {
    if (!status_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  PrimusProcess(const PrimusProcess&) = delete;
  PrimusProcess& operator=(const PrimusProcess&) = delete;

  void signal(int number) { ::kill(pid_, number); }
  // Whether the child has exited (reaps it when it has).
  bool finished() {
    if (status_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    return status_.has_value();
  }
  // Waits for the child and returns its waitpid status.
  int wait() {
    if (!status_) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      status_ = status;
    }
    return *status_;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns whether it held.
template <typename Condition>
bool wait_until(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return condition();
}

}  // namespace primus::train::testing
