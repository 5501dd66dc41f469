#pragma once
// Helpers shared by the tests that use the fault injector
// (storage/fault_injection.hpp).

#include <doctest/doctest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "storage/fault_injection.hpp"
#include "storage/file.hpp"
#include "test_util.hpp"

namespace herald::storage::test {

namespace fi = herald::storage::fault_injection;

// HERALD_TEST_REAL_SYNCS=1 (tests/storage/run_power_loss_on_ext4.sh): the
// injector makes every fsync for real as well, so the suite also drives a
// real file system's sync paths.
inline bool real_syncs_requested() {
  const char* v = std::getenv("HERALD_TEST_REAL_SYNCS");
  return v != nullptr && std::string(v) == "1";
}

// HERALD_TEST_ITERATIONS=n caps the iterations of the randomized loops
// (a run on a real device is slower); thresholds scale with scaled().
inline int iterations(int wanted) {
  const char* v = std::getenv("HERALD_TEST_ITERATIONS");
  if (v == nullptr) return wanted;
  return std::max(1, std::min(wanted, std::atoi(v)));
}
inline std::size_t scaled(std::size_t threshold, int wanted) {
  return threshold * static_cast<std::size_t>(iterations(wanted)) / static_cast<std::size_t>(wanted);
}

inline std::shared_ptr<fi::injector> make_injector(std::uint64_t seed = 1) {
  return std::make_shared<fi::injector>(fi::injector_config{seed, real_syncs_requested()});
}

// A scratch directory in memory (/dev/shm) when there is one: the injector's
// model, not the device, decides what a power loss keeps, and the loops below
// create and delete thousands of tiny segment files, about ten times faster
// on tmpfs than on a journaling file system.
class scratch_dir {
public:
  scratch_dir() {
    std::error_code ec;
    std::filesystem::path base = "/dev/shm";
    // HERALD_TEST_SCRATCH: where the run_power_loss_on_ext4.sh run mounted
    // its ext4 image.
    if (const char* dir = std::getenv("HERALD_TEST_SCRATCH"); dir != nullptr && *dir != '\0') {
      base = dir;
    } else if (!std::filesystem::is_directory(base, ec) || ::access(base.c_str(), W_OK) != 0) {
      base = std::filesystem::temp_directory_path();
    }
    std::string pattern = (base / "herald-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed in " + base.string());
    path_ = pattern;
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

inline std::span<const char> as_bytes(const std::string& s) { return {s.data(), s.size()}; }

inline std::string content(const std::filesystem::path& p) {
  const auto bytes = read_file_bytes(p);
  return {bytes.begin(), bytes.end()};
}

inline file open_file(const std::filesystem::path& p, int flags = O_RDWR | O_CREAT) {
  auto f = file::open(p, flags);
  REQUIRE_MESSAGE(f.has_value(), f.error().message);
  return std::move(*f);
}

inline void write(file& f, const std::string& s, std::uint64_t at) { REQUIRE(f.pwrite_all(as_bytes(s), at).is_ok()); }

} // namespace herald::storage::test
