#include "storage/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <utility>

#include "storage/file_hooks.hpp"

namespace herald::storage {

namespace {
std::mutex hooks_mu;
std::shared_ptr<file_hooks> hooks;
} // namespace

void install_file_hooks(std::shared_ptr<file_hooks> h) {
  std::lock_guard lock(hooks_mu);
  hooks = std::move(h);
  file_hooks_armed.store(hooks != nullptr, std::memory_order_relaxed);
}

std::shared_ptr<file_hooks> installed_file_hooks() {
  std::lock_guard lock(hooks_mu);
  return hooks;
}

namespace {

// Whether a test has installed hooks: the only cost of fault injection
// when none are (storage/file_hooks.hpp).
bool injecting() { return file_hooks_armed.load(std::memory_order_relaxed); }

status errno_status(int err, const char* op, const std::filesystem::path& path) {
  return make_errno_status(err, std::string(op) + " " + path.string());
}

status injected_status(int err, const char* op, const std::filesystem::path& path) {
  status s = errno_status(err, op, path);
  s.message += " (injected)";
  return s;
}

// Writes bytes at offset, retrying on EINTR and looping over short writes;
// `done` is what reached the file. Returns 0 or an errno.
int write_loop(int fd, std::span<const char> bytes, std::uint64_t offset, std::size_t& done) {
  done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

int sync_fd(int fd, bool data_only) {
  while ((data_only ? ::fdatasync(fd) : ::fsync(fd)) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

int truncate_fd(int fd, std::uint64_t size) {
  while (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

// 0 on success; EOPNOTSUPP passes through for the caller to treat as a no-op.
int allocate_fd(int fd, std::uint64_t size) {
  int rc;
  while ((rc = ::fallocate(fd, 0, 0, static_cast<off_t>(size))) != 0 && errno == EINTR) {
  }
  return rc == 0 ? 0 : errno;
}

int open_fd(const std::filesystem::path& path, int flags, int mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

} // namespace

file::~file() { close(); }

file::file(file&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

file& file::operator=(file&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

void file::close() {
  // close() errors are not actionable here: durability comes from explicit
  // (f)datasync calls, never from close.
  if (fd_ < 0) return;
  if (injecting()) [[unlikely]] {
    if (auto inj = installed_file_hooks()) inj->closed(fd_);
  }
  ::close(std::exchange(fd_, -1));
}

status file::error(int err, const char* op) const { return errno_status(err, op, path_); }

result<file> file::open(const std::filesystem::path& path, int flags, int mode) {
  if (injecting()) [[unlikely]] {
    if (auto inj = installed_file_hooks()) {
      const auto ticket = inj->before_open(path, flags);
      if (ticket.error != 0) return injected_status(ticket.error, "open", path);
      const int fd = open_fd(path, flags, mode);
      if (fd < 0) return errno_status(errno, "open", path);
      inj->opened(fd, path, flags, ticket.existed);
      return file(fd, path);
    }
  }
  const int fd = open_fd(path, flags, mode);
  if (fd < 0) return errno_status(errno, "open", path);
  return file(fd, path);
}

result<std::size_t> file::pread_some(std::span<char> out, std::uint64_t offset) const {
  if (injecting()) [[unlikely]] {
    if (auto inj = installed_file_hooks()) {
      if (const int err = inj->before(file_op::read, fd_)) return injected_status(err, "read", path_);
    }
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return error(errno, "read");
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

status file::pread_exact(std::span<char> out, std::uint64_t offset) const {
  auto n = pread_some(out, offset);
  if (!n) return n.error();
  if (*n != out.size()) {
    return {errc::io_error, "read " + path_.string() + ": unexpected end of file at byte " +
                                std::to_string(offset + *n) + " (wanted " + std::to_string(out.size()) +
                                " bytes from " + std::to_string(offset) + ")"};
  }
  return status::ok();
}

status file::pwrite_all(std::span<const char> bytes, std::uint64_t offset) {
  std::size_t done = 0;
  if (injecting()) [[unlikely]] {
    if (auto inj = installed_file_hooks()) {
      // The plan may cut the write short and then fail it, as a filling disk
      // does; the model records exactly the bytes that reached the file.
      const auto plan = inj->before_write(fd_, bytes.size());
      const int err = write_loop(fd_, bytes.first(plan.bytes), offset, done);
      if (done > 0) inj->wrote(fd_, bytes.first(done), offset);
      if (err != 0) return error(err, "write");
      if (plan.error != 0) return injected_status(plan.error, "write", path_);
      return status::ok();
    }
  }
  if (const int err = write_loop(fd_, bytes, offset, done); err != 0) return error(err, "write");
  return status::ok();
}

namespace {
// fsync or fdatasync under an injector: it may fail the call, skip the real
// one (injector_config::real_syncs), and learns what became durable.
status injected_sync(file_hooks& inj, int fd, bool data_only, const std::filesystem::path& path) {
  const char* name = data_only ? "fdatasync" : "fsync";
  if (const int err = inj.before(file_op::sync, fd)) return injected_status(err, name, path);
  const int err = inj.real_syncs() ? sync_fd(fd, data_only) : 0;
  inj.synced(fd, err == 0);
  if (err != 0) return errno_status(err, name, path);
  return status::ok();
}
} // namespace

status file::datasync() {
  if (injecting()) [[unlikely]] {
    if (auto inj = installed_file_hooks()) return injected_sync(*inj, fd_, true, path_);
  }
  if (const int err = sync_fd(fd_, true)) return error(err, "fdatasync");
  return status::ok();
}

status file::sync() {
  if (injecting()) [[unlikely]] {
    if (auto inj = installed_file_hooks()) return injected_sync(*inj, fd_, false, path_);
  }
  if (const int err = sync_fd(fd_, false)) return error(err, "fsync");
  return status::ok();
}

status file::truncate(std::uint64_t size) {
  if (injecting()) [[unlikely]] {
    if (auto inj = installed_file_hooks()) {
      if (const int err = inj->before(file_op::truncate, fd_)) return injected_status(err, "ftruncate", path_);
      if (const int err = truncate_fd(fd_, size)) return error(err, "ftruncate");
      inj->truncated(fd_, size);
      return status::ok();
    }
  }
  if (const int err = truncate_fd(fd_, size)) return error(err, "ftruncate");
  return status::ok();
}

status file::drop_cache() {
  if (injecting()) [[unlikely]] {
    if (auto inj = installed_file_hooks()) {
      if (const int err = inj->before(file_op::read, fd_)) return injected_status(err, "fadvise", path_);
      inj->dropped_cache(fd_);
    }
  }
  if (const int err = ::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED); err != 0) return error(err, "fadvise");
  return status::ok();
}

status file::allocate(std::uint64_t size) {
  // Reserves blocks and extends the file size, so later writes inside it
  // need no size change and fdatasync has less metadata to flush. Where the
  // file system cannot do it, the file simply grows as it is written.
  if (injecting()) [[unlikely]] {
    if (auto inj = installed_file_hooks()) {
      if (const int err = inj->before(file_op::allocate, fd_)) return injected_status(err, "fallocate", path_);
      const int err = allocate_fd(fd_, size);
      if (err == 0) inj->allocated(fd_, size);
      if (err != 0 && err != EOPNOTSUPP) return error(err, "fallocate");
      return status::ok();
    }
  }
  if (const int err = allocate_fd(fd_, size); err != 0 && err != EOPNOTSUPP) return error(err, "fallocate");
  return status::ok();
}

result<std::uint64_t> file::size() const {
  if (injecting()) [[unlikely]] {
    if (auto inj = installed_file_hooks()) {
      if (const int err = inj->before_stat(fd_)) return injected_status(err, "fstat", path_);
    }
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return error(errno, "fstat");
  return static_cast<std::uint64_t>(st.st_size);
}

} // namespace herald::storage
