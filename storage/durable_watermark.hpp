#pragma once
// How far the active segment is known to be durable, persisted, so that
// recovery can tell damage from a torn write in the active segment too:
// a flipped bit in the last batch must not be cut as a torn tail. Bytes
// below the watermark were fsynced (and validated
// when appended): a bad batch there is corruption, never a torn tail, and is
// not cut. Past it a bad batch followed by nothing valid is a torn tail.
//
// It lags: partition_log saves it after a sync once the synced data has
// grown by preallocation_step (4 MiB) past the saved point, and at a clean
// close, so it costs one small atomic file write per 4 MiB of data. A flipped
// bit in the last few MiB of a log whose process crashed is therefore still
// indistinguishable from a torn tail when nothing valid follows it.
//
// File format (<dir>/durable_watermark, 28 bytes, integers little-endian),
// replaced atomically (storage/checksummed_file.hpp):
//
//  off size field         meaning
//    0    4 magic         0x4d574448 ("HDWM" in file order)
//    4    4 version       1
//    8    8 segment_base  base offset of the segment it speaks of
//   16    8 position      bytes of that segment that are durable
//   24    4 crc           CRC32C of bytes [0, 24)
//
// It speaks of one segment only; when that segment is no longer the
// active one (a roll made it wholly durable) it is ignored. Truncations
// and resets delete it first (durably), since they move the data back.

#include <cstdint>
#include <filesystem>
#include <optional>

#include "storage/status.hpp"

namespace herald::storage {

struct durable_watermark {
  std::uint64_t segment_base = 0;
  std::uint64_t position = 0;
};

// Durable on return.
status save_durable_watermark(const std::filesystem::path& dir, const durable_watermark& w);
// nullopt when there is none. A damaged file is errc::corrupt.
result<std::optional<durable_watermark>> load_durable_watermark(const std::filesystem::path& dir);
// Deletes it, durably (the directory is fsynced); no file is fine.
status remove_durable_watermark(const std::filesystem::path& dir);

} // namespace herald::storage
