#include "storage/dir_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "storage/file.hpp"

namespace herald::storage {

result<std::unique_ptr<dir_lock>> dir_lock::acquire(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return status{errc::io_error, "create " + dir.string() + ": " + ec.message()};

  const auto lock_path = dir / ".lock";
  auto f = file::open(lock_path, O_RDWR | O_CREAT);
  if (!f) return f.error();

  int rc;
  do {
    rc = ::flock(f->fd(), LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) return make_errno_status(err, "flock " + lock_path.string());
    // Best effort: the holder may not have written its pid yet.
    char buf[32] = {};
    auto n = f->pread_some(std::span<char>(buf, sizeof(buf) - 1), 0);
    std::string pid = n ? std::string(buf, *n) : std::string();
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return status{errc::locked, "data directory " + dir.string() + " is locked by another process (pid " +
                                    (pid.empty() ? std::string("unknown") : pid) + ")"};
  }

  // Only the pid is written, for the message above; the lock itself is the
  // flock, which the kernel drops when the process dies.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (auto s = f->truncate(0); !s) return s;
  if (auto s = f->pwrite_all(pid, 0); !s) return s;

  // Ownership of the descriptor (and so of the lock) moves to dir_lock.
  return std::unique_ptr<dir_lock>(new dir_lock(f->release()));
}

dir_lock::~dir_lock() {
  // Closing the last descriptor of the open file description releases the lock.
  if (fd_ >= 0) ::close(fd_);
}

} // namespace herald::storage
