// Runs a script under launcher shims (see script_capture.hpp).
#include "primus/migrate/script_capture.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace primus::migrate {
namespace fs = std::filesystem;
namespace {

constexpr const char* kCaptureVariable = "PRIMUS_MIGRATE_CAPTURE";

// Each launch appends: its argument count, then argv[0] (the shim's name) and every argument, NUL-terminated.
constexpr const char* kRecordingShim =
    "#!/bin/sh\n"
    "# primus migrate: records this launch instead of running it.\n"
    "printf '%s\\0' \"$#\" \"$(basename \"$0\")\" \"$@\" >> \"$" "PRIMUS_MIGRATE_CAPTURE\"\n"
    "exit 0\n";
constexpr const char* kSilentShim = "#!/bin/sh\n# primus migrate: not run while capturing a launch.\nexit 0\n";

// A scratch directory that removes itself.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern = (fs::temp_directory_path() / "primus-migrate-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot create a scratch directory: " + std::string(std::strerror(errno)));
    path_ = pattern;
  }
  ~ScratchDirectory() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_executable(const fs::path& path, const char* text) {
  std::ofstream(path) << text;
  fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
}

std::vector<std::vector<std::string>> read_launches(const fs::path& capture) {
  std::ifstream in(capture, std::ios::binary);
  std::vector<std::string> fields;
  for (std::string field; std::getline(in, field, '\0');) fields.push_back(field);
  std::vector<std::vector<std::string>> launches;
  for (size_t i = 0; i < fields.size();) {
    size_t count = 0;
    auto [ptr, ec] = std::from_chars(fields[i].data(), fields[i].data() + fields[i].size(), count);
    if (ec != std::errc{} || ptr != fields[i].data() + fields[i].size())
      throw std::runtime_error("the launch record " + capture.string() + " is corrupt (the script wrote to $PRIMUS_MIGRATE_CAPTURE?)");
    if (i + 2 + count > fields.size()) break;  // a launch cut short (killed mid-write)
    launches.emplace_back(fields.begin() + static_cast<long>(i) + 1, fields.begin() + static_cast<long>(i + 2 + count));
    i += 2 + count;
  }
  return launches;
}

std::string tail_lines(const fs::path& file, size_t max_lines) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (size_t i = lines.size() > max_lines ? lines.size() - max_lines : 0; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

std::vector<std::string> child_environment(const fs::path& bin, const fs::path& capture, const ScriptRunOptions& options) {
  std::vector<std::string> env;
  std::string path = bin.string();
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    if (entry.starts_with("PATH=")) {
      path += ":" + entry.substr(5);
    } else if (!entry.starts_with("BASH_ENV=") && !entry.starts_with("ENV=")) {
      env.push_back(entry);
    }
  }
  env.push_back("PATH=" + path);
  env.push_back(std::string(kCaptureVariable) + "=" + capture.string());
  for (const auto& [name, value] : options.env) env.push_back(name + "=" + value);  // later entries win in bash
  return env;
}

}  // namespace

const std::vector<std::string>& recorded_launchers() {
  static const std::vector<std::string> names = {
      "torchrun", "python", "python3", "python3.8", "python3.9", "python3.10", "python3.11", "python3.12",
      "deepspeed", "mpirun", "mpiexec", "srun", "accelerate"};
  return names;
}

const std::vector<std::string>& silenced_tools() {
  static const std::vector<std::string> names = {
      "nvidia-smi", "rocm-smi", "amd-smi", "rocminfo", "ibv_devinfo", "ibstat", "pip", "pip3", "git",
      "wget", "curl", "huggingface-cli", "hf", "docker", "sbatch", "scontrol", "nvcc", "hipcc"};
  return names;
}

ScriptRun run_script_with_shims(const fs::path& script, const ScriptRunOptions& options) {
  if (!fs::is_regular_file(script)) throw std::runtime_error("cannot read the script " + script.string() + ": no such file");
  for (const auto& [name, value] : options.env)
    if (name.empty() || name.find_first_of("= ") != std::string::npos)
      throw std::runtime_error("invalid environment variable name '" + name + "' (expected VAR=value)");
  ScratchDirectory scratch;
  fs::path bin = scratch.path() / "bin", work = scratch.path() / "work";
  fs::create_directories(bin);
  fs::create_directories(work);
  fs::path capture = scratch.path() / "launches", out = scratch.path() / "stdout", err = scratch.path() / "stderr";
  for (const auto& name : recorded_launchers()) write_executable(bin / name, kRecordingShim);
  for (const auto& name : silenced_tools()) write_executable(bin / name, kSilentShim);

  std::vector<std::string> argv = {"bash", fs::absolute(script).string()};
  argv.insert(argv.end(), options.script_arguments.begin(), options.script_arguments.end());
  std::vector<std::string> env = child_environment(bin, capture, options);
  std::vector<char*> argv_c, env_c;
  for (auto& a : argv) argv_c.push_back(a.data());
  argv_c.push_back(nullptr);
  for (auto& e : env) env_c.push_back(e.data());
  env_c.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("cannot start bash: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    // Child: own process group (so a timeout ends everything the script started), scratch cwd, output to files.
    setpgid(0, 0);
    int in_fd = open("/dev/null", O_RDONLY);
    int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0 || chdir(work.c_str()) != 0) _exit(126);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execve("/bin/bash", argv_c.data(), env_c.data());
    execvpe("bash", argv_c.data(), env_c.data());
    _exit(127);
  }
  setpgid(pid, pid);
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  int status = 0;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) throw std::runtime_error("waiting for bash failed: " + std::string(std::strerror(errno)));
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      throw std::runtime_error("the script " + script.string() + " ran longer than " + std::to_string(options.timeout.count()) +
                               " s and was stopped; its stderr ended with:\n" + tail_lines(err, 20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid, SIGKILL);  // background jobs the script left behind
  ScriptRun run;
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (run.exit_status == 127 && tail_lines(err, 1).empty() && !fs::exists(capture))
    throw std::runtime_error("cannot run bash: not found in /bin or PATH");
  run.stderr_tail = tail_lines(err, 20);
  if (fs::exists(capture)) run.launches = read_launches(capture);
  return run;
}

}  // namespace primus::migrate
