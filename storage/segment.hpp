#pragma once
// One segment of a partition log: a <base>.log file of batches laid end to
// end plus its sparse offset index. Knows byte positions, not the log's
// policies (rolling, syncing, offsets across segments): partition_log.cpp.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "storage/batch_header.hpp"
#include "storage/file.hpp"
#include "storage/offset_index.hpp"
#include "storage/partition_log.hpp"
#include "storage/status.hpp"

namespace herald::storage {

// "%020llu" of the base offset, the stem of both file names.
std::string segment_file_stem(std::uint64_t base_offset);

class segment {
public:
  // A new, empty segment file (O_EXCL: it must not exist yet).
  static result<std::unique_ptr<segment>> create(const std::filesystem::path& dir, std::uint64_t base_offset,
                                                 std::uint32_t index_interval_bytes);
  // An existing segment file; the index is empty until load_index() or recover().
  static result<std::unique_ptr<segment>> open(const std::filesystem::path& dir, std::uint64_t base_offset,
                                               std::uint32_t index_interval_bytes);

  std::uint64_t base_offset() const { return base_; }
  std::uint64_t size() const { return size_; }
  const offset_index& index() const { return index_; }
  std::filesystem::path log_path() const;
  std::filesystem::path index_path() const;

  // For a closed segment: loads the index file, or rebuilds it from the batch
  // headers and writes it back when the file is missing or unusable.
  void load_index();

  // For the active segment at open: validates every batch (header, CRC,
  // contiguous base offsets from base_offset()), cuts the file at the first
  // bad one and makes the cut durable. Rebuilds the index in memory. Returns
  // the offset after the last good batch.
  result<std::uint64_t> recover(recovery_report& report);

  // The header at `pos`, after the checks needed to step over the batch
  // safely (magic, sane length inside the file). errc::corrupt otherwise.
  result<batch_header> read_header(std::uint64_t pos) const;
  // Exactly out.size() bytes at `pos`; errc::corrupt if the file is short.
  status read(std::uint64_t pos, std::span<char> out) const;

  // Writes a stamped batch at the end. On failure the file is cut back to
  // its previous size; if even that fails, broken() turns true.
  status append(std::span<const char> batch);
  bool broken() const { return broken_; }

  status datasync() { return file_.datasync(); }
  // Writes the index file atomically.
  status write_index() const;

private:
  segment(std::filesystem::path dir, std::uint64_t base, file f, std::uint64_t size, std::uint32_t interval)
      : dir_(std::move(dir)), base_(base), file_(std::move(f)), size_(size), index_(interval),
        interval_(interval) {}
  std::string where(std::uint64_t pos) const;
  void rebuild_index();

  std::filesystem::path dir_;
  std::uint64_t base_;
  file file_;
  std::uint64_t size_;
  offset_index index_;
  std::uint32_t interval_;
  bool broken_ = false;
};

} // namespace herald::storage
