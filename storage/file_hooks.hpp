#pragma once
// The seam through which tests watch and fail storage::file's calls. It is
// all a production binary holds of fault injection: this interface, one
// pointer and one flag. The fault layer itself (storage/fault_injection.hpp,
// library herald_fault_injection) is linked into tests only; a CTest checks
// that heraldd and herald contain none of it.
//
// storage::file consults the installed hooks on every call while
// file_hooks_armed is true; otherwise its cost is one relaxed atomic load
// per call. install_file_hooks() must not race with I/O that should see the
// change; a call in flight keeps the hooks it started with alive.

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

namespace herald::storage {

enum class file_op : std::uint8_t {
  open,      // file::open, including creating a file
  read,      // pread_some / pread_exact / drop_cache
  write,     // pwrite_all
  sync,      // datasync and sync, of files and directories alike
  truncate,  // file::truncate
  allocate,  // file::allocate
};

class file_hooks {
public:
  struct open_ticket {
    int error = 0;
    bool existed = false;
  };
  struct write_plan {
    std::size_t bytes = 0;  // write this many bytes first
    int error = 0;          // then fail with this, 0: do not fail
  };

  virtual ~file_hooks() = default;
  virtual open_ticket before_open(const std::filesystem::path& path, int flags) = 0;
  virtual void opened(int fd, const std::filesystem::path& path, int flags, bool existed) = 0;
  // For read, sync, truncate and allocate: an errno to fail with without
  // making the call, or 0.
  virtual int before(file_op o, int fd) = 0;
  virtual int before_stat(int fd) = 0;
  virtual write_plan before_write(int fd, std::size_t size) = 0;
  // false: fsync and fdatasync succeed without being made.
  virtual bool real_syncs() const = 0;
  virtual void wrote(int fd, std::span<const char> bytes, std::uint64_t offset) = 0;
  virtual void synced(int fd, bool ok) = 0;
  virtual void truncated(int fd, std::uint64_t size) = 0;
  virtual void allocated(int fd, std::uint64_t size) = 0;
  virtual void dropped_cache(int fd) = 0;
  virtual void closed(int fd) = 0;
};

void install_file_hooks(std::shared_ptr<file_hooks> hooks);  // nullptr: none
std::shared_ptr<file_hooks> installed_file_hooks();

// True while hooks are installed: storage::file's only cost otherwise.
inline std::atomic<bool> file_hooks_armed{false};

} // namespace herald::storage
