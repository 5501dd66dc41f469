// What an idle partition costs on disk: opens N empty partition logs with the
// broker's default log_config under DIR (which must not exist, or be empty),
// and prints the disk usage (allocated blocks, as du counts them) while they
// are open and after they are closed. Preallocating whole
// segments made an empty topic of 1,000 partitions ask for 128 GB.
//   empty_partitions DIR [N=1000]
// Run it on a bounded file system (mount -t tmpfs -o size=64m tmpfs DIR):
// if preallocation regresses, it fills that instead of the machine's disk.

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "storage/partition_log.hpp"

namespace {

std::uint64_t disk_usage(const std::filesystem::path& dir) {
  std::uint64_t bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  return bytes;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [N=1000]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const int n = argc > 2 ? std::atoi(argv[2]) : 1000;
  const herald::storage::log_config cfg;  // the broker's defaults: 128 MiB segments, preallocating
  std::vector<std::unique_ptr<herald::storage::partition_log>> logs;
  for (int i = 0; i < n; ++i) {
    auto log = herald::storage::partition_log::open(dir / ("p-" + std::to_string(i)), cfg);
    if (!log) {
      std::fprintf(stderr, "partition %d: %s\n", i, log.error().message.c_str());
      return 1;
    }
    logs.push_back(std::move(*log));
  }
  std::printf("%d empty partitions (segment_bytes %llu): %llu bytes of data blocks while open", n,
              static_cast<unsigned long long>(cfg.segment_bytes),
              static_cast<unsigned long long>(disk_usage(dir)));
  logs.clear();
  std::printf(", %llu after close\n", static_cast<unsigned long long>(disk_usage(dir)));
  return 0;
}
