#include "storage/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace herald::storage {

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
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

status file::error(int err, const char* op) const {
  return make_errno_status(err, std::string(op) + " " + path_.string());
}

result<file> file::open(const std::filesystem::path& path, int flags, int mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return make_errno_status(errno, "open " + path.string());
  return file(fd, path);
}

result<std::size_t> file::pread_some(std::span<char> out, std::uint64_t offset) const {
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
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return error(errno, "write");
    }
    done += static_cast<std::size_t>(n);
  }
  return status::ok();
}

status file::datasync() {
  while (::fdatasync(fd_) != 0) {
    if (errno != EINTR) return error(errno, "fdatasync");
  }
  return status::ok();
}

status file::sync() {
  while (::fsync(fd_) != 0) {
    if (errno != EINTR) return error(errno, "fsync");
  }
  return status::ok();
}

status file::truncate(std::uint64_t size) {
  while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) return error(errno, "ftruncate");
  }
  return status::ok();
}

status file::allocate(std::uint64_t size) {
  // Reserves blocks and extends the file size, so later writes inside it
  // need no size change and fdatasync has less metadata to flush. Where the
  // file system cannot do it, the file simply grows as it is written.
  int rc;
  while ((rc = ::fallocate(fd_, 0, 0, static_cast<off_t>(size))) != 0 && errno == EINTR) {
  }
  if (rc != 0 && errno != EOPNOTSUPP)
    return error(errno, "fallocate");
  return status::ok();
}

result<std::uint64_t> file::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return error(errno, "fstat");
  return static_cast<std::uint64_t>(st.st_size);
}

} // namespace herald::storage
