#pragma once
// The broker's free-space reserve. The node samples the data directory's
// file system (statvfs) every --disk-check-ms; while free space is below
// `reserve` bytes the guard is full, and creates and produces are refused
// with diskFull while reads, deletes and retention (which free space or
// need none) keep working. The reserve is what lets a delete rewrite the
// metadata and the logs finish the batch in hand when the guard trips.
//
// Hysteresis: full below `reserve`, clear again only at `reserve + margin`,
// so a disk hovering at the threshold does not flap between accepting and
// refusing on every sample.
//
// Thread-safe: one writer (the node actor samples), any number of readers
// (sessions on other threads look at full()). CAF-free.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace herald::cluster {

class disk_guard {
public:
  disk_guard(std::filesystem::path dir, std::uint64_t reserve_bytes);

  // Samples the file system now. Returns the free bytes, or nullopt when
  // statvfs failed (the state is then left as it was).
  std::optional<std::uint64_t> check();
  // The decision alone, for a given sample (check() calls it; tests feed it).
  // Returns true when the state changed.
  bool observe(std::uint64_t free_bytes);

  bool full() const { return full_.load(std::memory_order_acquire); }
  std::uint64_t free_bytes() const { return free_.load(std::memory_order_relaxed); }
  std::uint64_t reserve() const { return reserve_; }
  std::uint64_t margin() const { return margin_; }

  // "3.1 MiB free in /data, below the 8.0 MiB reserve; <what> are refused
  // until space is freed" (the diskFull code names the condition).
  std::string refusal(const std::string& what) const;

private:
  std::filesystem::path dir_;
  std::uint64_t reserve_;
  std::uint64_t margin_;
  std::atomic<bool> full_{false};
  std::atomic<std::uint64_t> free_{0};
};

} // namespace herald::cluster
