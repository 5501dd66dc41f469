#pragma once
// A heraldd process for system tests, on a free port in its own data
// directory. The address is read from --port-file: tests never guess ports.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/tmpfs.hpp"

namespace herald::test {

class broker_process {
public:
  // Starts heraldd and waits until it listens. Extra flags are appended.
  broker_process(const std::filesystem::path& data_dir, const std::filesystem::path& log_dir,
                 std::vector<std::string> extra_flags = {});

  const std::string& address() const { return address_; }
  child_process& process() { return *process_; }
  std::string log() const;

  void kill9();              // SIGKILL and reap: a crash
  bool stop();               // SIGTERM and wait: a clean stop

private:
  std::filesystem::path data_dir_;
  std::filesystem::path log_dir_;
  std::unique_ptr<child_process> process_;
  std::string address_;
};

// A broker whose data directory is on a bounded tmpfs of its own (for tests
// that write a lot fast), with 8 MiB segments, no disk reserve and no fsync.
// Mounting needs root: without it up() is false and the test skips.
struct broker_on_tmpfs {
  temp_dir dir;
  std::unique_ptr<tmpfs_mount> disk;
  std::unique_ptr<broker_process> broker;

  explicit broker_on_tmpfs(std::vector<std::string> flags, std::uint64_t bytes = 160ull << 20);
  bool up() const { return broker != nullptr; }
};

// Paths of the binaries under test (set by CMake).
std::string heraldd_path();
std::string herald_path();

// `herald --broker ADDRESS <args>` through the shell; returns the exit status.
int run_cli(const std::string& address, const std::string& args, const std::filesystem::path& out,
            const std::filesystem::path& err);

} // namespace herald::test
