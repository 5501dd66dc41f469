#include "tests/support/broker.hpp"

#include <signal.h>

#include <algorithm>
#include <stdexcept>

namespace herald::test {

std::string heraldd_path() {
  return HERALD_HERALDD_PATH;
}

std::string herald_path() {
  return HERALD_CLI_PATH;
}

broker_process::broker_process(const std::filesystem::path& data_dir, const std::filesystem::path& log_dir,
                               std::vector<std::string> extra_flags)
  : data_dir_(data_dir), log_dir_(log_dir) {
  auto port_file = log_dir_ / "heraldd.port";
  std::filesystem::remove(port_file);
  std::vector<std::string> argv{heraldd_path(), "--data-dir=" + data_dir_.string(), "--port-file=" + port_file.string()};
  // A fixed --listen among the extra flags (a static cluster) replaces "any free port".
  if (std::none_of(extra_flags.begin(), extra_flags.end(), [](const auto& f) { return f.starts_with("--listen="); }))
    argv.push_back("--listen=127.0.0.1:0");
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  process_ = std::make_unique<child_process>(argv, log_dir_ / "heraldd.out", log_dir_ / "heraldd.log");
  bool up = eventually([&] {
    auto text = read_file(port_file);
    if (text.empty() || text.back() != '\n')
      return false;
    address_ = text.substr(0, text.size() - 1);
    return true;
  });
  if (!up)
    throw std::runtime_error("heraldd did not start: " + log());
}

std::string broker_process::log() const {
  return read_file(log_dir_ / "heraldd.log");
}

void broker_process::kill9() {
  process_->kill_and_reap();
}

bool broker_process::stop() {
  process_->signal(SIGTERM);
  auto status = process_->wait_for(std::chrono::seconds{20});
  return status && *status == 0;
}

broker_on_tmpfs::broker_on_tmpfs(std::vector<std::string> flags, std::uint64_t bytes) {
  disk = std::make_unique<tmpfs_mount>(dir.path(), bytes);
  if (!disk->mounted())
    return;
  flags.insert(flags.end(), {"--segment-bytes=8388608", "--disk-reserve-bytes=0", "--fsync=never"});
  broker = std::make_unique<broker_process>(disk->path() / "data", dir.path(), flags);
}

int run_cli(const std::string& address, const std::string& args, const std::filesystem::path& out,
            const std::filesystem::path& err) {
  return run_shell(herald_path() + " --broker " + address + " " + args, out, err);
}

} // namespace herald::test
