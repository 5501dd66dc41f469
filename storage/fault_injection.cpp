#include "storage/fault_injection.hpp"

#include "storage/atomic_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <system_error>
#include <utility>
#include <vector>

namespace herald::storage::fault_injection {
namespace {

namespace fs = std::filesystem;

// Raw POSIX helpers: the injector must never go through storage::file itself
// (it would call back into the injector).

std::optional<std::vector<char>> read_raw_fd(int fd) {
  std::vector<char> out;
  char buf[1 << 16];
  std::uint64_t off = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof(buf), static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) return out;
    out.insert(out.end(), buf, buf + n);
    off += static_cast<std::uint64_t>(n);
  }
}

std::optional<std::vector<char>> read_raw(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  auto out = read_raw_fd(fd);
  ::close(fd);
  return out;
}

bool write_raw(const fs::path& p, const std::vector<char>& bytes) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::size_t done = 0;
  bool ok = true;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      ok = false;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return ok;
}

// Paths are compared lexically (no symlinks resolved): storage/ names a
// directory's files by appending to the directory's own path.
fs::path normalize(const fs::path& p) {
  std::error_code ec;
  auto abs = fs::absolute(p, ec);
  return (ec ? p : abs).lexically_normal();
}

using inode_key = std::pair<dev_t, ino_t>;

// Regular files directly in `dir`, by name (sorted, so that everything
// derived from a listing is deterministic). readdir's d_ino saves a stat per
// entry, except on overlayfs, where it need not equal st_ino.
std::map<std::string, inode_key> list_files(const fs::path& dir) {
  constexpr long overlayfs_magic = 0x794c7630;
  std::map<std::string, inode_key> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  struct stat dst {};
  struct statfs sfs {};
  const bool trust_d_ino = ::fstat(::dirfd(d), &dst) == 0 && ::fstatfs(::dirfd(d), &sfs) == 0 &&
                           static_cast<long>(sfs.f_type) != overlayfs_magic;
  while (const dirent* e = ::readdir(d)) {
    if (trust_d_ino && e->d_type == DT_REG) {
      out.emplace(e->d_name, inode_key{dst.st_dev, e->d_ino});
      continue;
    }
    if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    out.emplace(e->d_name, inode_key{st.st_dev, st.st_ino});
  }
  ::closedir(d);
  return out;
}

struct change {
  enum class kind { write, truncate, allocate } what;
  std::uint64_t at = 0;  // write: offset; truncate, allocate: size
  std::vector<char> bytes;
};

void apply_change(std::vector<char>& content, const change& c) {
  switch (c.what) {
  case change::kind::write:
    if (content.size() < c.at + c.bytes.size()) content.resize(c.at + c.bytes.size(), 0);
    std::copy(c.bytes.begin(), c.bytes.end(), content.begin() + static_cast<std::ptrdiff_t>(c.at));
    break;
  case change::kind::truncate: content.resize(c.at, 0); break;
  case change::kind::allocate:
    if (content.size() < c.at) content.resize(c.at, 0);
    break;
  }
}

struct inode {
  std::vector<char> durable;       // at the last successful sync
  std::vector<char> cache;         // what reads see
  std::vector<change> pending;     // since the last sync, that a power loss may still persist
};

struct open_file {
  std::uint64_t id = 0;  // 0: not a tracked regular file
  fs::path path;
  bool dir = false;
  bool dead = false;
};

struct rule {
  fault f;
  std::uint32_t seen = 0;
  std::uint32_t failed = 0;
};

std::string describe(const change& c) {
  switch (c.what) {
  case change::kind::write:
    return "write of " + std::to_string(c.bytes.size()) + " bytes at " + std::to_string(c.at);
  case change::kind::truncate: return "truncate to " + std::to_string(c.at);
  case change::kind::allocate: return "allocate to " + std::to_string(c.at);
  }
  return "?";
}

} // namespace

const char* to_string(op o) {
  switch (o) {
  case op::open: return "open";
  case op::read: return "read";
  case op::write: return "write";
  case op::sync: return "sync";
  case op::truncate: return "truncate";
  case op::allocate: return "allocate";
  }
  return "?";
}

struct injector::state {
  explicit state(injector_config c) : cfg(c), rng(c.seed) {}

  mutable std::mutex mu;
  injector_config cfg;
  std::mt19937_64 rng;
  std::vector<rule> rules;
  std::array<std::uint64_t, op_count> calls{};
  std::array<std::uint64_t, op_count> injected{};

  std::uint64_t next_id = 1;
  std::map<std::uint64_t, inode> inodes;
  std::map<inode_key, std::uint64_t> live;  // inode numbers of files that exist now
  std::map<int, open_file> fds;
  std::map<fs::path, std::map<std::string, std::uint64_t>> dirs;  // entries at the last fsync

  std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi) {  // [lo, hi]
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  }

  std::uint64_t new_inode(inode_key key, std::vector<char> content) {
    const std::uint64_t id = next_id++;
    inode& n = inodes[id];
    n.durable = content;
    n.cache = std::move(content);
    live[key] = id;
    return id;
  }

  // The model of an existing file; one not seen before is taken as durable
  // as it is now.
  std::uint64_t existing(inode_key key, const fs::path& p) {
    if (auto it = live.find(key); it != live.end()) return it->second;
    return new_inode(key, read_raw(p).value_or(std::vector<char>{}));
  }

  std::map<std::string, std::uint64_t> current_entries(const fs::path& dir) {
    std::map<std::string, std::uint64_t> out;
    for (const auto& [name, key] : list_files(dir)) out[name] = existing(key, dir / name);
    return out;
  }

  // A directory seen for the first time is taken as durable as it is.
  void track_dir(const fs::path& dir) {
    if (dirs.count(dir)) return;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    dirs[dir] = current_entries(dir);
  }

  inode* model_of(int fd) {
    auto it = fds.find(fd);
    if (it == fds.end() || it->second.id == 0 || it->second.dead) return nullptr;
    return &inodes[it->second.id];
  }

  void record(int fd, change c) {
    if (inode* n = model_of(fd)) {
      apply_change(n->cache, c);
      n->pending.push_back(std::move(c));
    }
  }

  // The rule that fails this call, or null.
  const rule* decide(op o, const fs::path& path, bool dir) {
    const rule* chosen = nullptr;
    const std::string p = path.string();
    for (rule& r : rules) {
      if (r.f.what != o) continue;
      if (r.f.applies_to == fault::target::files && dir) continue;
      if (r.f.applies_to == fault::target::directories && !dir) continue;
      if (!r.f.path_contains.empty() && p.find(r.f.path_contains) == std::string::npos) continue;
      if (r.seen++ < r.f.skip) continue;
      if (r.f.count != forever && r.failed >= r.f.count) continue;
      if (r.f.one_in > 1 && uniform(1, r.f.one_in) != 1) continue;
      if (chosen) continue;  // counted, but the first rule decides
      ++r.failed;
      chosen = &r;
    }
    return chosen;
  }

  // crash::reordered_writeback (fault_injection.hpp).
  std::vector<char> reordered(const inode& n, const fs::path& name, power_loss_report& rep) {
    constexpr std::size_t page = 4096;
    constexpr std::size_t sector = 512;
    std::vector<char> target = n.durable;
    for (const change& c : n.pending) apply_change(target, c);
    std::vector<char> content = n.durable;
    const bool new_size = uniform(0, 1) == 1;
    const std::size_t span = std::max(target.size(), content.size());
    content.resize(span, 0);
    std::vector<char> old = content;
    std::size_t pages_kept = 0, pages_lost = 0, pages_torn = 0;
    for (std::size_t at = 0; at < span; at += page) {
      const std::size_t end = std::min(span, at + page);
      auto new_byte = [&](std::size_t i) { return i < target.size() ? target[i] : char{0}; };
      bool differs = false;
      for (std::size_t i = at; i < end && !differs; ++i) differs = new_byte(i) != old[i];
      if (!differs) continue;
      if (uniform(0, 1) == 0) {
        ++pages_lost;
        continue;
      }
      const bool torn = uniform(0, 3) == 0;
      pages_torn += torn ? 1 : 0;
      pages_kept += torn ? 0 : 1;
      for (std::size_t s0 = at; s0 < end; s0 += sector) {
        if (torn && uniform(0, 1) == 0) continue;
        for (std::size_t i = s0; i < std::min(end, s0 + sector); ++i) content[i] = new_byte(i);
      }
    }
    content.resize(new_size ? target.size() : n.durable.size(), 0);
    if (!n.pending.empty()) {
      rep.changes_lost += pages_lost > 0 || pages_torn > 0 ? 1 : 0;
      rep.detail += name.string() + ": reordered writeback, " + std::to_string(pages_kept) + " pages written, " +
                    std::to_string(pages_torn) + " torn, " + std::to_string(pages_lost) + " lost; " +
                    std::to_string(n.cache.size()) + " -> " + std::to_string(content.size()) + " bytes\n";
    }
    return content;
  }

  std::vector<char> after_crash(const inode& n, crash mode, const fs::path& name, power_loss_report& rep) {
    if (mode == crash::reordered_writeback) return reordered(n, name, rep);
    std::vector<char> content = n.durable;
    const std::size_t total = n.pending.size();
    std::size_t keep = 0;
    if (mode != crash::lose_unsynced && total > 0) keep = static_cast<std::size_t>(uniform(0, total));
    for (std::size_t i = 0; i < keep; ++i) apply_change(content, n.pending[i]);
    std::string torn;
    if (mode == crash::keep_prefix_torn && keep < total && n.pending[keep].what == change::kind::write &&
        !n.pending[keep].bytes.empty()) {
      const change& w = n.pending[keep];
      const auto part = static_cast<std::size_t>(uniform(0, w.bytes.size() - 1));
      const auto end = w.bytes.begin() + static_cast<std::ptrdiff_t>(part);
      const change cut{change::kind::write, w.at, std::vector<char>(w.bytes.begin(), end)};
      apply_change(content, cut);
      const bool zeros = uniform(0, 1) == 1 && content.size() < w.at + w.bytes.size();
      if (zeros) content.resize(w.at + w.bytes.size(), 0);
      torn = ", then " + describe(w) + " torn after " + std::to_string(part) + " bytes" +
             (zeros ? " (rest zeros)" : "");
    }
    rep.changes_lost += total - keep;
    if (total > 0) {
      rep.detail += name.string() + ": kept " + std::to_string(keep) + " of " + std::to_string(total) +
                    " unsynced changes" + torn + "; " + std::to_string(n.cache.size()) + " -> " +
                    std::to_string(content.size()) + " bytes\n";
    }
    return content;
  }
};

injector::injector(injector_config cfg) : s_(std::make_unique<state>(cfg)) {}
injector::~injector() = default;

void injector::add(fault f) {
  std::lock_guard lock(s_->mu);
  s_->rules.push_back(rule{std::move(f)});
}

void injector::clear_faults() {
  std::lock_guard lock(s_->mu);
  s_->rules.clear();
}

std::uint64_t injector::calls(op o) const {
  std::lock_guard lock(s_->mu);
  return s_->calls[static_cast<std::size_t>(o)];
}

std::uint64_t injector::injected(op o) const {
  std::lock_guard lock(s_->mu);
  return s_->injected[static_cast<std::size_t>(o)];
}

bool injector::real_syncs() const { return s_->cfg.real_syncs; }

injector::open_ticket injector::before_open(const fs::path& path, int flags) {
  std::lock_guard lock(s_->mu);
  state& s = *s_;
  ++s.calls[static_cast<std::size_t>(op::open)];
  const fs::path p = normalize(path);
  s.track_dir((flags & O_DIRECTORY) ? p : p.parent_path());
  open_ticket t;
  struct stat st {};
  t.existed = ::lstat(path.c_str(), &st) == 0;
  if (const rule* r = s.decide(op::open, p, (flags & O_DIRECTORY) != 0)) {
    ++s.injected[static_cast<std::size_t>(op::open)];
    t.error = r->f.error;
  }
  return t;
}

void injector::opened(int fd, const fs::path& path, int flags, bool existed) {
  std::lock_guard lock(s_->mu);
  state& s = *s_;
  struct stat st {};
  open_file of;
  of.path = normalize(path);
  if (::fstat(fd, &st) == 0) {
    const inode_key key{st.st_dev, st.st_ino};
    if (S_ISDIR(st.st_mode)) {
      of.dir = true;
    } else if (S_ISREG(st.st_mode)) {
      if (!existed) {
        of.id = s.new_inode(key, {});  // new, even if the inode number was used before
      } else if (auto it = s.live.find(key); it != s.live.end()) {
        of.id = it->second;
        if ((flags & O_TRUNC) && !s.inodes[of.id].cache.empty()) {
          change c{change::kind::truncate, 0, {}};
          inode& n = s.inodes[of.id];
          apply_change(n.cache, c);
          n.pending.push_back(std::move(c));
        }
      } else {
        of.id = s.new_inode(key, read_raw_fd(fd).value_or(std::vector<char>{}));
      }
    }
  }
  s.fds[fd] = std::move(of);  // replaces whatever an earlier, released descriptor left
}

int injector::before(op o, int fd) {
  std::lock_guard lock(s_->mu);
  state& s = *s_;
  ++s.calls[static_cast<std::size_t>(o)];
  auto it = s.fds.find(fd);
  if (it != s.fds.end() && it->second.dead) {
    ++s.injected[static_cast<std::size_t>(o)];
    return EIO;
  }
  const rule* r = it == s.fds.end() ? s.decide(o, fs::path(), false) : s.decide(o, it->second.path, it->second.dir);
  if (!r) return 0;
  ++s.injected[static_cast<std::size_t>(o)];
  if (o == op::sync && r->f.drop_unsynced) {
    if (inode* n = s.model_of(fd)) n->pending.clear();
  }
  return r->f.error;
}

int injector::before_stat(int fd) {
  std::lock_guard lock(s_->mu);
  auto it = s_->fds.find(fd);
  return it != s_->fds.end() && it->second.dead ? EIO : 0;
}

injector::write_plan injector::before_write(int fd, std::size_t size) {
  std::lock_guard lock(s_->mu);
  state& s = *s_;
  ++s.calls[static_cast<std::size_t>(op::write)];
  auto it = s.fds.find(fd);
  if (it != s.fds.end() && it->second.dead) {
    ++s.injected[static_cast<std::size_t>(op::write)];
    return {0, EIO};
  }
  const rule* r = it == s.fds.end() ? s.decide(op::write, fs::path(), false)
                                    : s.decide(op::write, it->second.path, it->second.dir);
  if (!r) return {size, 0};
  ++s.injected[static_cast<std::size_t>(op::write)];
  return {std::min(size, r->f.bytes_before_error), r->f.error};
}

void injector::wrote(int fd, std::span<const char> bytes, std::uint64_t offset) {
  std::lock_guard lock(s_->mu);
  s_->record(fd, change{change::kind::write, offset, std::vector<char>(bytes.begin(), bytes.end())});
}

void injector::truncated(int fd, std::uint64_t size) {
  std::lock_guard lock(s_->mu);
  s_->record(fd, change{change::kind::truncate, size, {}});
}

void injector::allocated(int fd, std::uint64_t size) {
  std::lock_guard lock(s_->mu);
  s_->record(fd, change{change::kind::allocate, size, {}});
}

void injector::dropped_cache(int fd) {
  std::lock_guard lock(s_->mu);
  inode* n = s_->model_of(fd);
  if (!n) return;
  std::vector<char> disk = n->durable;
  for (const change& c : n->pending) apply_change(disk, c);
  if (disk == n->cache) return;
  // The real file is the model's cache (tmpfs has no page cache to drop):
  // rewrite it to what the disk holds, through this descriptor (same inode).
  std::size_t done = 0;
  while (done < disk.size()) {
    const ssize_t w = ::pwrite(fd, disk.data() + done, disk.size() - done, static_cast<off_t>(done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    done += static_cast<std::size_t>(w);
  }
  if (::ftruncate(fd, static_cast<off_t>(disk.size())) != 0) return;
  n->cache = std::move(disk);
}

void injector::synced(int fd, bool ok) {
  std::lock_guard lock(s_->mu);
  state& s = *s_;
  auto it = s.fds.find(fd);
  if (it == s.fds.end() || it->second.dead) return;
  if (it->second.dir) {
    if (ok) s.dirs[it->second.path] = s.current_entries(it->second.path);
    return;
  }
  inode* n = s.model_of(fd);
  if (!n) return;
  if (ok) {
    for (const change& c : n->pending) apply_change(n->durable, c);
  }
  // A failed fsync: the kernel may have marked the pages clean, so none of
  // these changes will be written by a later one.
  n->pending.clear();
}

void injector::closed(int fd) {
  std::lock_guard lock(s_->mu);
  s_->fds.erase(fd);
}

void injector::damaged(dev_t dev, ino_t ino, std::uint64_t offset, char value) {
  std::lock_guard lock(s_->mu);
  auto it = s_->live.find({dev, ino});
  if (it == s_->live.end()) return;
  inode& n = s_->inodes[it->second];
  if (offset < n.durable.size()) n.durable[offset] = value;
  if (offset < n.cache.size()) n.cache[offset] = value;
}

void injector::damaged_size(dev_t dev, ino_t ino, std::uint64_t size) {
  std::lock_guard lock(s_->mu);
  auto it = s_->live.find({dev, ino});
  if (it == s_->live.end()) return;
  inode& n = s_->inodes[it->second];
  n.durable.resize(size, 0);
  n.cache.resize(size, 0);
}

power_loss_report injector::simulate_power_loss(crash mode) {
  forget_failed_directory_syncs();  // a reboot: lookups see the disk again
  std::lock_guard lock(s_->mu);
  state& s = *s_;
  power_loss_report rep;
  std::map<std::uint64_t, std::vector<char>> contents;  // once per inode, however many names it has
  std::map<fs::path, std::map<std::string, const std::vector<char>*>> survivors;

  for (const auto& [dir, durable] : s.dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    const auto now = s.current_entries(dir);
    std::map<std::string, std::uint64_t> after;
    std::vector<std::string> names;
    for (const auto& [name, id] : durable) names.push_back(name);
    for (const auto& [name, id] : now) {
      if (!durable.count(name)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    // Renames are atomic: a name whose new inode was another changed name's
    // old one moves with it. Each group of names linked so decides once.
    std::map<std::string, std::string> group;  // name -> representative
    auto find = [&](std::string n) {
      while (group.count(n) && group[n] != n) n = group[n];
      return n;
    };
    std::map<std::uint64_t, std::string> left;  // old inode of a changed name -> that name
    for (const auto& name : names) {
      group[name] = name;
      const auto d = durable.find(name);
      const auto c = now.find(name);
      const std::uint64_t old_id = d == durable.end() ? 0 : d->second;
      const std::uint64_t new_id = c == now.end() ? 0 : c->second;
      if (old_id != 0 && old_id != new_id) left[old_id] = name;
    }
    for (const auto& name : names) {
      const auto c = now.find(name);
      const auto d = durable.find(name);
      if (c == now.end() || (d != durable.end() && d->second == c->second)) continue;
      if (auto from = left.find(c->second); from != left.end()) group[find(from->second)] = find(name);
    }
    std::map<std::string, bool> take_new;  // representative -> decision
    for (const auto& name : names) {
      const auto d = durable.find(name);
      const auto c = now.find(name);
      const std::uint64_t old_id = d == durable.end() ? 0 : d->second;
      const std::uint64_t new_id = c == now.end() ? 0 : c->second;
      std::uint64_t id = old_id;
      if (old_id != new_id) {
        const std::string rep_name = find(name);
        auto decided = take_new.find(rep_name);
        if (decided == take_new.end()) {
          decided = take_new.emplace(rep_name, mode != crash::lose_unsynced && s.uniform(0, 1) == 1).first;
        }
        if (decided->second) id = new_id;
        if (id == old_id) {
          ++rep.entries_reverted;
          rep.detail += (dir / name).string() +
                        (new_id == 0 ? ": removed since the last directory fsync, back"
                                     : old_id == 0 ? ": created since the last directory fsync, gone"
                                                   : ": replaced since the last directory fsync, old file back") +
                        "\n";
        }
      }
      if (id != 0) after[name] = id;
    }

    // Files whose entry and content come through unchanged stay as they
    // are (their open descriptors are dead all the same); the others are
    // written afresh, as new inodes.
    auto& final_contents = survivors[dir];
    for (const auto& [name, id] : now) {
      const auto a = after.find(name);
      if (a != after.end() && a->second == id) continue;
      ::unlink((dir / name).c_str());
    }
    for (const auto& [name, id] : after) {
      auto it = contents.find(id);
      if (it == contents.end()) it = contents.emplace(id, s.after_crash(s.inodes[id], mode, dir / name, rep)).first;
      final_contents[name] = &it->second;
      ++rep.files;
      const auto c = now.find(name);
      if (c != now.end() && c->second == id && it->second == s.inodes[id].cache) continue;
      ::unlink((dir / name).c_str());
      if (!write_raw(dir / name, it->second)) rep.detail += (dir / name).string() + ": could not be rewritten\n";
    }
  }

  // The process that had these files open is gone.
  for (auto& [fd, f] : s.fds) f.dead = true;
  // What is on disk now is all there is, and all of it is durable.
  s.inodes.clear();
  s.live.clear();
  s.dirs.clear();
  for (const auto& [dir, files] : survivors) {
    auto& entries = s.dirs[dir];
    for (const auto& [name, key] : list_files(dir)) {
      auto f = files.find(name);
      entries[name] =
          s.new_inode(key, f != files.end() ? *f->second : read_raw(dir / name).value_or(std::vector<char>{}));
    }
  }
  return rep;
}

status injector::check_model() const {
  std::lock_guard lock(s_->mu);
  const state& s = *s_;
  for (const auto& [dir, entries] : s.dirs) {
    for (const auto& [name, key] : list_files(dir)) {
      const fs::path p = dir / name;
      auto it = s.live.find(key);
      if (it == s.live.end()) return {errc::corrupt, p.string() + ": not created through storage::file"};
      const auto disk = read_raw(p);
      if (!disk) return {errc::io_error, p.string() + ": cannot read"};
      const auto& cache = s.inodes.at(it->second).cache;
      if (*disk != cache) {
        std::size_t at = 0;
        while (at < disk->size() && at < cache.size() && (*disk)[at] == cache[at]) ++at;
        return {errc::corrupt, p.string() + ": " + std::to_string(disk->size()) + " bytes on disk, model has " +
                                   std::to_string(cache.size()) + ", first difference at byte " + std::to_string(at)};
      }
    }
  }
  return status::ok();
}

namespace {
std::mutex g_mu;
std::shared_ptr<injector> g_injector;
} // namespace

void install(std::shared_ptr<injector> inj) {
  std::lock_guard lock(g_mu);
  g_injector = std::move(inj);
  install_file_hooks(g_injector);
}

void uninstall() { install(nullptr); }

std::shared_ptr<injector> installed() {
  std::lock_guard lock(g_mu);
  return g_injector;
}

status flip_bit(const fs::path& path, std::uint64_t bit) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return make_errno_status(errno, "open " + path.string());
  struct stat st {};
  status s = status::ok();
  char c = 0;
  const auto at = static_cast<off_t>(bit / 8);
  if (::fstat(fd, &st) != 0) {
    s = make_errno_status(errno, "fstat " + path.string());
  } else if (bit / 8 >= static_cast<std::uint64_t>(st.st_size)) {
    s = {errc::io_error, "flip_bit " + path.string() + ": bit " + std::to_string(bit) + " is past the end"};
  } else if (::pread(fd, &c, 1, at) != 1) {
    s = make_errno_status(errno, "read " + path.string());
  } else {
    c = static_cast<char>(c ^ (1 << (bit % 8)));
    if (::pwrite(fd, &c, 1, at) != 1) s = make_errno_status(errno, "write " + path.string());
  }
  ::close(fd);
  if (s) {
    if (auto inj = installed()) inj->damaged(st.st_dev, st.st_ino, bit / 8, c);
  }
  return s;
}

status truncate_file(const fs::path& path, std::uint64_t size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return make_errno_status(errno, "stat " + path.string());
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
    return make_errno_status(errno, "truncate " + path.string());
  }
  if (auto inj = installed()) inj->damaged_size(st.st_dev, st.st_ino, size);
  return status::ok();
}

} // namespace herald::storage::fault_injection
