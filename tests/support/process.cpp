#include "tests/support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace herald::test {

child_process::child_process(std::vector<std::string> argv, const std::filesystem::path& stdout_file,
                             const std::filesystem::path& stderr_file, const std::filesystem::path& stdin_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, stdin_file.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw std::runtime_error("cannot start " + argv[0]);
}

child_process::~child_process() {
  kill_and_reap();
}

void child_process::signal(int sig) const {
  if (!status_)
    ::kill(pid_, sig);
}

std::optional<int> child_process::wait_for(std::chrono::milliseconds timeout) {
  if (status_)
    return status_;
  auto reaped = eventually(
    [&] {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) != pid_)
        return false;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return true;
    },
    timeout);
  return reaped ? status_ : std::nullopt;
}

bool child_process::wait_stopped(std::chrono::milliseconds timeout) {
  return !status_ && eventually(
                       [&] {
                         int st = 0;
                         return ::waitpid(pid_, &st, WNOHANG | WUNTRACED) == pid_ && WIFSTOPPED(st);
                       },
                       timeout);
}

bool child_process::wait_continued(std::chrono::milliseconds timeout) {
  return !status_ && eventually(
                       [&] {
                         int st = 0;
                         return ::waitpid(pid_, &st, WNOHANG | WCONTINUED) == pid_ && WIFCONTINUED(st);
                       },
                       timeout);
}

void child_process::kill_and_reap() {
  if (status_ || pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  status_ = 128 + SIGKILL;
}

temp_dir::temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "herald-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int run_shell(const std::string& command, const std::filesystem::path& stdout_file,
              const std::filesystem::path& stderr_file, std::chrono::seconds timeout) {
  child_process p({"/bin/sh", "-c", command}, stdout_file, stderr_file);
  auto status = p.wait_for(timeout);
  if (!status)
    throw std::runtime_error("command timed out: " + command);
  return *status;
}

} // namespace herald::test
