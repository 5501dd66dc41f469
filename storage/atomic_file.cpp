#include "storage/atomic_file.hpp"

#include <fcntl.h>

#include <cstdio>
#include <mutex>
#include <set>
#include <vector>
#include <system_error>

#include "storage/file.hpp"

namespace herald::storage {
namespace {
std::filesystem::path parent_or_cwd(const std::filesystem::path& path) {
  auto dir = path.parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}
} // namespace

status write_file_atomically(const std::filesystem::path& path, std::span<const char> bytes) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  auto fail = [&](status s) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);  // never leave a half-written tmp behind
    return s;
  };

  auto f = file::open(tmp, O_WRONLY | O_CREAT | O_TRUNC);
  if (!f) return f.error();
  if (auto s = f->pwrite_all(bytes, 0); !s) return fail(s);
  // The data must be on disk before the rename can be: otherwise a crash
  // could leave the new name pointing at an empty or partial file.
  if (auto s = f->sync(); !s) return fail(s);
  f->close();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(make_errno_status(errno, "rename " + tmp.string() + " to " + path.string()));
  }
  return sync_directory(parent_or_cwd(path));
}

result<std::vector<char>> read_whole_file(const std::filesystem::path& path) {
  auto f = file::open(path, O_RDONLY);
  if (!f) return status{errc::io_error, f.error().message};
  auto size = f->size();
  if (!size) return status{errc::io_error, size.error().message};
  std::vector<char> bytes(*size);
  auto n = f->pread_some(bytes, 0);
  if (!n) return status{errc::io_error, n.error().message};
  bytes.resize(*n);  // the file may have shrunk since fstat; return what is there
  return bytes;
}

namespace {
std::mutex failed_mu;
std::set<std::filesystem::path>& failed_dirs() {
  static std::set<std::filesystem::path> dirs;
  return dirs;
}
std::filesystem::path dir_key(const std::filesystem::path& dir) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(dir, ec);
  return (ec ? dir : abs).lexically_normal();
}
} // namespace

status sync_directory(const std::filesystem::path& dir) {
  auto d = file::open(dir, O_RDONLY | O_DIRECTORY);
  if (!d) return d.error();
  auto s = d->sync();
  if (!s) {
    // Entries renamed or created in it may be lost while lookups still find
    // them (as with a file's pages after a failed fsync); a later fsync
    // succeeding proves nothing. Remember it for this process.
    std::lock_guard lock(failed_mu);
    failed_dirs().insert(dir_key(dir));
  }
  return s;
}

void forget_failed_directory_syncs() {
  std::lock_guard lock(failed_mu);
  failed_dirs().clear();
}

status check_directory_trusted(const std::filesystem::path& dir) {
  std::lock_guard lock(failed_mu);
  if (failed_dirs().count(dir_key(dir)) == 0) return status::ok();
  return {errc::io_error, "an fsync of directory " + dir.string() +
                              " failed earlier in this process: its entries (hard_state, log_start, segment files) "
                              "may not be durable; restart the broker (after a reboot, the disk tells the truth)"};
}

status create_directories_durably(const std::filesystem::path& dir) {
  // The directories that do not exist yet, deepest first; each new entry
  // becomes durable by an fsync of its parent.
  std::vector<std::filesystem::path> missing;
  std::error_code ec;
  for (auto p = dir_key(dir); !p.empty() && !std::filesystem::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  if (missing.empty()) return status::ok();
  std::filesystem::create_directories(dir, ec);
  if (ec) return {errc::io_error, "create " + dir.string() + ": " + ec.message()};
  for (const auto& p : missing) {
    if (auto s = sync_directory(parent_or_cwd(p)); !s) return s;
  }
  return status::ok();
}

} // namespace herald::storage
