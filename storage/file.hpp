#pragma once
// A thin RAII wrapper over a POSIX file descriptor. Every call retries on
// EINTR and loops over short transfers, and every failure comes back as a
// status naming the file (errc::no_space for ENOSPC/EDQUOT).
//
// Tests can install hooks that every call here consults (storage/file_hooks.hpp,
// the fault injector of storage/fault_injection.hpp); without, the cost is one relaxed atomic
// load per call.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <utility>

#include "storage/status.hpp"

namespace herald::storage {

class file {
public:
  file() = default;
  ~file();
  file(file&& other) noexcept;
  file& operator=(file&& other) noexcept;
  file(const file&) = delete;
  file& operator=(const file&) = delete;

  // `flags` as for open(2); O_CLOEXEC is always added.
  static result<file> open(const std::filesystem::path& path, int flags, int mode = 0644);

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }

  // Reads until `out` is full or end of file; returns the bytes read.
  result<std::size_t> pread_some(std::span<char> out, std::uint64_t offset) const;
  // Reads exactly out.size() bytes; errc::io_error on a short file.
  status pread_exact(std::span<char> out, std::uint64_t offset) const;
  // Writes all of `bytes` or fails (a partial write may remain on failure).
  status pwrite_all(std::span<const char> bytes, std::uint64_t offset);

  status datasync();
  status sync();
  status truncate(std::uint64_t size);
  // Drops the file's clean pages from the page cache
  // (POSIX_FADV_DONTNEED), so that later reads come from the disk. After a
  // failed writeback Linux marks the lost pages clean while reads still
  // return them; sync() and then this makes reads show what the disk holds.
  // Dirty pages stay (sync first). Best effort: it only ever fails on a
  // bad descriptor.
  status drop_cache();
  // Preallocates [0, size) (fallocate without KEEP_SIZE: the size grows to
  // `size`, the new bytes read as zeros). A no-op where unsupported.
  status allocate(std::uint64_t size);
  result<std::uint64_t> size() const;
  void close();
  // Gives up ownership of the descriptor without closing it.
  int release() { return std::exchange(fd_, -1); }

private:
  file(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  status error(int err, const char* op) const;

  int fd_ = -1;
  std::filesystem::path path_;
};

} // namespace herald::storage
