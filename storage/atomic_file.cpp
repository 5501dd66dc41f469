#include "storage/atomic_file.hpp"

#include <fcntl.h>

#include <cstdio>
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

status sync_directory(const std::filesystem::path& dir) {
  auto d = file::open(dir, O_RDONLY | O_DIRECTORY);
  if (!d) return d.error();
  return d->sync();
}

} // namespace herald::storage
