#pragma once
// An exclusive, advisory lock on a data directory (flock on <dir>/.lock), so
// two processes never share one. Released when the object is destroyed or the
// process dies. The lock file records the holder's pid for the error message.

#include <filesystem>
#include <memory>

#include "storage/status.hpp"

namespace herald::storage {

class dir_lock {
public:
  // errc::locked when another process holds it (message names its pid).
  static result<std::unique_ptr<dir_lock>> acquire(const std::filesystem::path& dir);
  ~dir_lock();
  dir_lock(const dir_lock&) = delete;
  dir_lock& operator=(const dir_lock&) = delete;

private:
  explicit dir_lock(int fd) : fd_(fd) {}
  int fd_;
};

} // namespace herald::storage
