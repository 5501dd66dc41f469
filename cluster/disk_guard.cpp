#include "cluster/disk_guard.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <cstdio>

namespace herald::cluster {

namespace {

std::string mib(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

} // namespace

// An eighth of the reserve (at most 64 MiB) must come free before the guard
// clears: enough to stop flapping, small enough that freeing space is seen.
disk_guard::disk_guard(std::filesystem::path dir, std::uint64_t reserve_bytes)
  : dir_(std::move(dir)), reserve_(reserve_bytes), margin_(std::min<std::uint64_t>(reserve_bytes / 8, 64ull << 20)) {}

std::optional<std::uint64_t> disk_guard::check() {
  struct statvfs s {};
  if (::statvfs(dir_.c_str(), &s) != 0)
    return std::nullopt;
  // f_bavail: what an unprivileged writer may still use (root's share of
  // ext4's reserved blocks does not count as room for data).
  const std::uint64_t free = static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
  observe(free);
  return free;
}

bool disk_guard::observe(std::uint64_t free_bytes) {
  free_.store(free_bytes, std::memory_order_relaxed);
  const bool was = full();
  const bool now = was ? free_bytes < reserve_ + margin_ : free_bytes < reserve_;
  full_.store(now, std::memory_order_release);
  return now != was;
}

std::string disk_guard::refusal(const std::string& what) const {
  return mib(free_bytes()) + " free in " + dir_.string() + ", below the " + mib(reserve_) +
         " reserve; " + what + " are refused until space is freed";
}

} // namespace herald::cluster
