#pragma once
// A bounded tmpfs for tests that fill a disk: whatever they do, the rest of
// the machine keeps its space. Needs root (tests skip without it).

#include <cstdint>
#include <filesystem>
#include <string>

namespace herald::test {

class tmpfs_mount {
public:
  // Mounts a tmpfs of `bytes` on a fresh directory under `parent`. Check
  // mounted() (false when not root or mount(2) refused, with why()).
  tmpfs_mount(const std::filesystem::path& parent, std::uint64_t bytes);
  ~tmpfs_mount();  // unmounts (lazily, should a process still hold it)
  tmpfs_mount(const tmpfs_mount&) = delete;
  tmpfs_mount& operator=(const tmpfs_mount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::filesystem::path& path() const { return path_; }
  std::uint64_t free_bytes() const;  // what an unprivileged writer may still use

  // Writes `file` until the file system refuses (ENOSPC): 100% full.
  // Returns the bytes written.
  std::uint64_t fill(const std::filesystem::path& file) const;

private:
  std::filesystem::path path_;
  bool mounted_ = false;
  std::string why_;
};

} // namespace herald::test
