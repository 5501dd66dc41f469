#include "tests/support/tmpfs.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace herald::test {

tmpfs_mount::tmpfs_mount(const std::filesystem::path& parent, std::uint64_t bytes) : path_(parent / "tmpfs") {
  std::filesystem::create_directories(path_);
  auto options = "size=" + std::to_string(bytes);
  if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    why_ = std::string{"mount tmpfs on "} + path_.string() + ": " + std::strerror(errno);
    return;
  }
  mounted_ = true;
}

tmpfs_mount::~tmpfs_mount() {
  if (mounted_)
    ::umount2(path_.c_str(), MNT_DETACH);
}

std::uint64_t tmpfs_mount::free_bytes() const {
  struct statvfs s {};
  if (::statvfs(path_.c_str(), &s) != 0)
    return 0;
  return static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
}

std::uint64_t tmpfs_mount::fill(const std::filesystem::path& file) const {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0)
    return 0;
  std::vector<char> chunk(1 << 20, 'x');
  std::uint64_t written = 0;
  // Big chunks first, then ever smaller ones: the last blocks count too.
  for (std::size_t size = chunk.size(); size >= 512; size /= 2) {
    for (;;) {
      auto n = ::write(fd, chunk.data(), size);
      if (n <= 0)
        break;
      written += static_cast<std::uint64_t>(n);
    }
  }
  ::close(fd);
  return written;
}

} // namespace herald::test
