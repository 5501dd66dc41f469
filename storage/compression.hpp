#pragma once
// Compressed record batch payloads (codecs 1 = lz4 and 2 = zstd in the
// attributes of batch_header.hpp).
//
// A compressed batch is `header (72 bytes) | compressed payload`, where the
// compressed payload wraps the very bytes an uncompressed batch carries (one
// Cap'n Proto RecordBatchPayload in flat serialization, schema/record.capnp).
// The batch CRC covers [28, length) as for any batch, i.e. the compressed
// bytes: the broker checks it without decompressing and stores the batch as
// it is. All integers are little-endian.
//
//  off  size  field                meaning
//    0     4  uncompressed_length  bytes of the Cap'n Proto message inside:
//                                  a multiple of 8, in [8, max_uncompressed_payload]
//    4     4  compressed_length    bytes of `data`: >= 1, and
//                                  uncompressed_length <= max_compression_ratio * compressed_length
//    8     n  data                 codec 1: one raw LZ4 block (no frame), as
//                                           LZ4_compress_default/LZ4_compress_HC write it
//                                  codec 2: exactly one zstd frame (ZSTD_compress);
//                                           its content size, if it states one,
//                                           must equal uncompressed_length
//  8+n     p  padding              p zero bytes, 0 <= p <= 7, so that the batch
//                                  length (72 + 8 + n + p) is a multiple of 8
//
// A reader accepts nothing else: a payload shorter than 8 bytes, lengths out
// of range, padding that is not zero or is 8 bytes or more, data that fails
// to decompress or decompresses to any other size all give
// errc::invalid_batch. The caps bound what a hostile batch can make a reader
// allocate (64 MiB) and how much work per input byte it can demand (1024x),
// so a decompression bomb is an error, never an OOM.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "storage/status.hpp"

namespace herald::storage {

enum class codec : std::uint16_t { none = 0, lz4 = 1, zstd = 2 };

inline constexpr std::size_t compressed_prefix_size = 8;
inline constexpr std::size_t max_uncompressed_payload = std::size_t{64} << 20;
inline constexpr std::size_t max_compression_ratio = 1024;
// Each codec's default: LZ4_compress_default for lz4, ZSTD_CLEVEL_DEFAULT (3)
// for zstd. Other lz4 levels (1..12) select LZ4 HC; zstd levels are clamped
// to what the library supports.
inline constexpr int default_compression_level = 0;

const char* to_string(codec c);

// The compressed payload (format above) for `plain`, or nullopt when `plain`
// breaks a reader limit (too large, not a multiple of 8, empty) or compresses
// beyond max_compression_ratio; the caller then stores it another way.
// Precondition: c != codec::none.
std::optional<std::vector<char>> compress_payload(codec c, int level, std::span<const char> plain);

// An upper bound of the size of compress_payload(c, level, plain) for any
// `plain` of `plain_size` bytes.
std::size_t compressed_payload_bound(codec c, std::size_t plain_size);

// A decompressed payload, 8-byte aligned as Cap'n Proto needs.
struct decompressed_payload {
  std::unique_ptr<std::uint64_t[]> words;
  std::size_t word_count = 0;
};

// Checks and decompresses a compressed payload (the batch after its header).
// Anything the format above does not allow is errc::invalid_batch. An
// uncompressed_length over `max_plain` (a topic's batch limit, say) is
// errc::batch_too_large, found from the prefix before anything is
// allocated or decompressed: never more than `max_plain` bytes come out.
// Precondition: c != codec::none.
result<decompressed_payload> decompress_payload(codec c, std::span<const char> payload,
                                                std::size_t max_plain = max_uncompressed_payload);

} // namespace herald::storage
