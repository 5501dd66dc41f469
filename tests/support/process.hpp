#pragma once
// Child processes for system tests: output goes to files (never inherited
// pipes, which would keep CTest waiting), and a child is killed and reaped
// on every exit path, including a failing assertion.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace herald::test {

class child_process {
public:
  // Starts `argv` with stdin from `stdin_file` (or /dev/null) and stdout and
  // stderr into the given files.
  child_process(std::vector<std::string> argv, const std::filesystem::path& stdout_file,
                const std::filesystem::path& stderr_file, const std::filesystem::path& stdin_file = "/dev/null");
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  int pid() const { return pid_; }
  void signal(int sig) const;
  // Exit status (or 128 + signal) once it has ended within `timeout`.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  void kill_and_reap();
  // After SIGSTOP / SIGCONT: true once the kernel reports the whole process
  // stopped (every thread) / running again (waitpid WUNTRACED / WCONTINUED).
  // A signal is delivered asynchronously: a test that acts on "paused" right
  // after kill(2) races the process's last instructions.
  bool wait_stopped(std::chrono::milliseconds timeout = std::chrono::seconds{20});
  bool wait_continued(std::chrono::milliseconds timeout = std::chrono::seconds{20});

private:
  int pid_ = -1;
  std::optional<int> status_;
};

// A fresh directory under /tmp, removed with everything in it on destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);

// Polls `condition` every few milliseconds until it holds or `timeout`
// passes; returns whether it held. For waiting on another process, which
// offers nothing to block on.
template <class F>
bool eventually(F&& condition, std::chrono::milliseconds timeout = std::chrono::seconds{20});

// Runs a command to completion (through /bin/sh) and returns its exit status;
// stdout and stderr go to the given files.
int run_shell(const std::string& command, const std::filesystem::path& stdout_file,
              const std::filesystem::path& stderr_file, std::chrono::seconds timeout = std::chrono::seconds{120});

} // namespace herald::test

#include "tests/support/process_inl.hpp"
