#pragma once
// Test-only fault injection for storage::file: calls that fail on demand,
// simulated power loss, and disk damage. Library herald_fault_injection,
// linked by tests only: production binaries hold just the hooks it plugs
// into (storage/file_hooks.hpp).
//
// Why a process-wide hook in storage::file rather than a file-system
// interface passed down to partition_log and segment: every storage file
// operation already goes through storage::file, so the code under test runs
// unchanged (no test-only parameters through the log's API), and nothing in
// storage/ can bypass the injector by accident. The price on the normal path
// is one relaxed atomic load per call (file_hooks_armed); everything else happens
// only while an injector is installed. install() and uninstall() must not
// race with storage I/O that should see the change; a call in flight keeps
// the injector it started with alive.
//
// What the injector sees: every open, read, write, fsync/fdatasync,
// ftruncate, fallocate and close made through storage::file while it is
// installed, and nothing else. Renames and removals made with <filesystem> or
// <cstdio> are not seen as they happen; they show up as differences between a
// directory's listing and its listing at its last fsync (see the model below).
//
// (a) Faults (add()): the next matching calls fail with an errno (ENOSPC
//     becomes errc::no_space, anything else errc::io_error), without making
//     the real call; a failing write can first put some of its bytes in the
//     file (a short write, then the error), as a filling disk does. Messages
//     end in "(injected)".
//
// (b) Power loss (simulate_power_loss()). The model, per file (inode):
//     - durable content: the file at its last successful fsync/fdatasync (both
//       persist data and size); for a file that existed when its directory was
//       first seen, its content then; for a file created since, empty.
//     - pending changes: every write, truncate and allocate since, in order.
//       close() is not a sync: closing a file leaves its changes pending.
//     - a failed fsync (injected or real) drops the file's pending changes
//       from what can ever reach the disk while reads still see them (Linux
//       marks the pages clean after a writeback error, and a later fsync then
//       succeeds without them), unless fault::drop_unsynced is false. Until
//       file::drop_cache() (POSIX_FADV_DONTNEED), which makes reads show the
//       disk: the durable content plus the pending changes.
//     and per directory: its entries (name -> inode) at its last fsync, or
//     when first seen. A power loss rewrites every tracked directory:
//     - crash::lose_unsynced: each entry as at the directory's last fsync
//       (files created since vanish, removed ones come back, renames revert),
//       each file with exactly its durable content.
//     - crash::keep_prefix: each entry changed since the last directory fsync
//       independently keeps its new or its old state; each file gets its
//       durable content plus a random prefix of its pending changes (disks
//       persist unsynced data, but this model keeps it in order per file).
//     - crash::keep_prefix_torn: as keep_prefix, and the first change not kept,
//       if a write, is torn at a random byte; half the time the file size
//       still covers the whole write, the part not written reading as zeros
//       (the size reached the disk before the data).
//     - crash::reordered_writeback: each entry as in keep_prefix (a rename
//       too, as one unit); each file's size is its durable size or its size
//       now, and each 4 KiB page that differs between its durable content
//       and what the disk would hold after all pending changes (the cache,
//       minus what failed fsyncs lost) independently reaches the disk or
//       not, out of order: an unsynced page after one that did not arrive
//       leaves a hole of old bytes (zeros past the old end). A page that does
//       arrive is torn one time in four, each 512-byte sector new or old on
//       its own, so a page shared by durable bytes and new data can be half
//       written. Durable bytes are never changed: a sector holds old or new
//       bytes, and both hold the durable ones (devices that write garbage
//       into a torn sector are not modelled).
//     In the keep modes a rename (an inode that moved from one name to
//     another in a directory since its last fsync) is atomic, as journaling
//     file systems make it: both names take their new state or both their
//     old one.
//     Random choices come from injector_config::seed: the same calls and seed
//     give the same outcome. Every storage::file open at the power loss is
//     dead afterwards (its process is gone): its calls fail with EIO and do
//     nothing, only close() works. Files that changed are rewritten as new
//     inodes; after the power loss everything on disk counts as durable.
//     Not modelled: ordering between files and between entries (each file
//     and each entry, renames aside, is independent, which is more than a journaling file
//     system allows: in the keep modes a later create may survive an earlier
//     unlink that does not), reordered or partial sectors inside a file other
//     than the torn write (outside reordered_writeback), subdirectories and the tracked directories
//     themselves (always durable), fsync of a file making its own new entry
//     durable (ext4 does; POSIX does not promise it), a fallocate that fails
//     after allocating part, read errors of damaged sectors, files opened
//     before install() or written other than through storage::file (see
//     check_model()), inode numbers reused by files not created through
//     storage::file, symlinks (paths are compared lexically), mmap and
//     O_DIRECT. Contents are held in memory twice: keep test files small.
//
// (c) Damage (flip_bit(), truncate_file()): changes a file as a failing disk
//     would, in place. With an injector installed the damage is recorded as
//     on disk, so it survives a later simulated power loss.
//
// Thread-safe: an injector serialises its own state.

#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <span>
#include <string>

#include "storage/file_hooks.hpp"
#include "storage/status.hpp"

namespace herald::storage::fault_injection {

// The calls storage::file makes (storage/file_hooks.hpp).
using op = file_op;
inline constexpr std::size_t op_count = 6;
const char* to_string(op o);

inline constexpr std::uint32_t forever = std::numeric_limits<std::uint32_t>::max();

// A rule for failing calls, built by chaining:
//   fault(op::write, ENOSPC).short_write(10).forever().on_paths_containing(".log")
// Each rule counts the calls it matches by itself; when several rules would
// fail a call, the first added decides.
struct fault {
  enum class target { all, files, directories };

  explicit fault(op o, int err = EIO) : what(o), error(err) {}
  fault& after(std::uint32_t calls) { skip = calls; return *this; }
  fault& times(std::uint32_t n) { count = n; return *this; }
  fault& forever() { count = fault_injection::forever; return *this; }
  fault& one_in_n(std::uint32_t n) { one_in = n; return *this; }
  fault& short_write(std::size_t bytes) { bytes_before_error = bytes; return *this; }
  fault& on_paths_containing(std::string s) { path_contains = std::move(s); return *this; }
  fault& on_files() { applies_to = target::files; return *this; }
  fault& on_directories() { applies_to = target::directories; return *this; }
  fault& keeping_unsynced() { drop_unsynced = false; return *this; }

  op what;
  int error;                           // errno the call fails with
  std::uint32_t skip = 0;              // matching calls let through before it applies
  std::uint32_t count = 1;             // calls it fails before it is spent; `forever`
  std::uint32_t one_in = 1;            // > 1: fail each matching call with probability 1/one_in
  std::size_t bytes_before_error = 0;  // write: bytes really written first (at most all)
  std::string path_contains;           // only paths containing this; empty: all
  target applies_to = target::all;     // regular files, directories (sync), or both
  bool drop_unsynced = true;           // sync: the failure loses the file's pending changes
};

enum class crash { lose_unsynced, keep_prefix, keep_prefix_torn, reordered_writeback };

struct power_loss_report {
  std::size_t files = 0;              // files in the tracked directories after it
  std::size_t changes_lost = 0;       // pending changes that did not survive (a torn one counts)
  std::size_t entries_reverted = 0;   // directory entries back to their last fsync
  std::string detail;                 // one line per file or entry that changed
};

struct injector_config {
  std::uint64_t seed = 1;
  // false: fsync and fdatasync succeed without being made (the model alone
  // decides what survives a simulated power loss), which keeps tests fast.
  bool real_syncs = true;
};

class injector final : public file_hooks {
public:
  explicit injector(injector_config cfg = {});
  ~injector() override;
  injector(const injector&) = delete;
  injector& operator=(const injector&) = delete;

  void add(fault f);
  void clear_faults();
  std::uint64_t calls(op o) const;     // calls seen
  std::uint64_t injected(op o) const;  // calls failed by a fault or by a dead file

  // Rewrites every tracked directory as a power loss now would leave it
  // (see the header comment) and forgets all pending changes.
  power_loss_report simulate_power_loss(crash mode = crash::lose_unsynced);

  // Checks that every file in a tracked directory holds what the model says
  // reads see: catches changes made other than through storage::file, which
  // the model cannot know. errc::corrupt naming the first difference.
  status check_model() const;

  // ---- file_hooks: called by storage::file only. ----
  open_ticket before_open(const std::filesystem::path& path, int flags) override;
  void opened(int fd, const std::filesystem::path& path, int flags, bool existed) override;
  int before(op o, int fd) override;
  int before_stat(int fd) override;  // EIO for a dead file, else 0
  write_plan before_write(int fd, std::size_t size) override;
  bool real_syncs() const override;
  void wrote(int fd, std::span<const char> bytes, std::uint64_t offset) override;
  void synced(int fd, bool ok) override;
  void truncated(int fd, std::uint64_t size) override;
  void allocated(int fd, std::uint64_t size) override;
  // file::drop_cache(): reads now see what the disk holds: the durable
  // content plus the changes still pending (dirty pages stay cached); what a
  // failed fsync lost vanishes from reads too.
  void dropped_cache(int fd) override;
  void closed(int fd) override;

  // ---- The damage helpers below. ----
  void damaged(dev_t dev, ino_t ino, std::uint64_t offset, char value);
  void damaged_size(dev_t dev, ino_t ino, std::uint64_t size);

private:
  struct state;
  std::unique_ptr<state> s_;
};

// Makes `inj` the injector storage::file consults (nullptr: none).
void install(std::shared_ptr<injector> inj);
void uninstall();
std::shared_ptr<injector> installed();

// Installs for its lifetime.
class scoped_install {
public:
  explicit scoped_install(std::shared_ptr<injector> inj) { install(std::move(inj)); }
  ~scoped_install() { uninstall(); }
  scoped_install(const scoped_install&) = delete;
  scoped_install& operator=(const scoped_install&) = delete;
};

// Flips bit `bit` (bit % 8 of byte bit / 8) of the file in place.
status flip_bit(const std::filesystem::path& path, std::uint64_t bit);
// Cuts (or extends with zeros) the file to `size` bytes in place.
status truncate_file(const std::filesystem::path& path, std::uint64_t size);

} // namespace herald::storage::fault_injection
