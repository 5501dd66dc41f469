#include "storage/batch_header.hpp"

#include <cstring>
#include <string>
#include <type_traits>

#include "storage/crc32c.hpp"

namespace herald::storage {
namespace {

// Byte-by-byte so the on-disk format is little-endian on any host and no
// unaligned loads are needed.
template <class T>
void put(std::span<char> out, std::size_t off, T value) {
  using U = std::make_unsigned_t<T>;
  auto u = static_cast<U>(value);
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out[off + i] = static_cast<char>(static_cast<unsigned char>(u >> (8 * i)));
  }
}

template <class T>
T get(std::span<const char> in, std::size_t off) {
  using U = std::make_unsigned_t<T>;
  U u = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    u = static_cast<U>(u | static_cast<U>(static_cast<U>(static_cast<unsigned char>(in[off + i])) << (8 * i)));
  }
  return static_cast<T>(u);
}

status invalid(std::string what) { return {errc::invalid_batch, std::move(what)}; }

constexpr std::uint16_t codec_mask = batch_codec_mask;
constexpr std::uint16_t max_known_codec = 2;

} // namespace

void encode_batch_header(const batch_header& h, std::span<char> out) {
  if (out.size() < batch_header_size) return;
  put<std::uint64_t>(out, 0, h.base_offset);
  put<std::uint32_t>(out, 8, h.length);
  put<std::uint32_t>(out, 12, h.magic);
  put<std::uint64_t>(out, 16, h.term);
  put<std::uint32_t>(out, 24, h.crc);
  put<std::uint16_t>(out, 28, h.attributes);
  put<std::uint16_t>(out, 30, 0);
  put<std::uint32_t>(out, 32, h.last_offset_delta);
  put<std::uint32_t>(out, 36, h.record_count);
  put<std::int64_t>(out, 40, h.first_timestamp);
  put<std::int64_t>(out, 48, h.max_timestamp);
  put<std::int64_t>(out, 56, h.producer_id);
  put<std::int16_t>(out, 64, h.producer_epoch);
  put<std::uint16_t>(out, 66, 0);
  put<std::int32_t>(out, 68, h.base_sequence);
}

batch_header decode_batch_header(std::span<const char> in) {
  batch_header h;
  if (in.size() < batch_header_size) {
    h.magic = 0;  // length 0 and no magic: fails any validation
    return h;
  }
  h.base_offset = get<std::uint64_t>(in, 0);
  h.length = get<std::uint32_t>(in, 8);
  h.magic = get<std::uint32_t>(in, 12);
  h.term = get<std::uint64_t>(in, 16);
  h.crc = get<std::uint32_t>(in, 24);
  h.attributes = get<std::uint16_t>(in, 28);
  h.last_offset_delta = get<std::uint32_t>(in, 32);
  h.record_count = get<std::uint32_t>(in, 36);
  h.first_timestamp = get<std::int64_t>(in, 40);
  h.max_timestamp = get<std::int64_t>(in, 48);
  h.producer_id = get<std::int64_t>(in, 56);
  h.producer_epoch = get<std::int16_t>(in, 64);
  h.base_sequence = get<std::int32_t>(in, 68);
  return h;
}

void stamp_batch(std::span<char> batch, std::uint64_t base_offset, std::uint64_t term) {
  if (batch.size() < batch_header_size) return;
  put<std::uint64_t>(batch, 0, base_offset);
  put<std::uint64_t>(batch, 16, term);
}

namespace {
// The CRC range ends at `length` when that is sane, otherwise at the end of
// the span, so a bad length can never make us read past the buffer.
std::uint32_t compute_crc(std::span<const char> batch) {
  const std::uint32_t length = get<std::uint32_t>(batch, 8);
  std::size_t end = batch.size();
  if (length >= batch_crc_start && length <= batch.size()) end = length;
  return crc32c(batch.data() + batch_crc_start, end - batch_crc_start);
}
} // namespace

void seal_batch(std::span<char> batch) {
  if (batch.size() < batch_header_size) return;
  put<std::uint32_t>(batch, batch_crc_offset, compute_crc(batch));
}

status validate_batch(std::span<const char> batch) {
  if (batch.size() < batch_header_size) {
    return invalid("batch of " + std::to_string(batch.size()) + " bytes is shorter than its " +
                   std::to_string(batch_header_size) + "-byte header");
  }
  const batch_header h = decode_batch_header(batch);
  if (h.magic != batch_magic) return invalid("bad magic " + std::to_string(h.magic));
  if (h.length != batch.size()) {
    return invalid("length field " + std::to_string(h.length) + " but batch is " +
                   std::to_string(batch.size()) + " bytes");
  }
  if (h.length % 8 != 0) return invalid("length " + std::to_string(h.length) + " is not a multiple of 8");
  if (h.record_count == 0 && !h.is_compacted()) return invalid("record_count is 0");
  if (h.record_count > 0 && h.last_offset_delta < h.record_count - 1) {
    return invalid("last_offset_delta " + std::to_string(h.last_offset_delta) + " < record_count - 1 (" +
                   std::to_string(h.record_count - 1) + ")");
  }
  if (get<std::uint16_t>(batch, 30) != 0 || get<std::uint16_t>(batch, 66) != 0) {
    return invalid("reserved header bytes are not zero");
  }
  if ((h.attributes & ~(codec_mask | batch_control_bit | batch_compacted_bit)) != 0) {
    return invalid("unknown attribute bits " + std::to_string(h.attributes));
  }
  if (h.is_control() && h.is_compacted()) return invalid("compacted control batch");
  if ((h.attributes & codec_mask) > max_known_codec) {
    return invalid("unknown codec " + std::to_string(h.attributes & codec_mask));
  }
  if (h.is_control() && h.record_count != 1) return invalid("control batch with " + std::to_string(h.record_count) + " records");
  const std::uint32_t crc = compute_crc(batch);
  if (crc != h.crc) {
    return invalid("crc mismatch: header says " + std::to_string(h.crc) + ", bytes give " + std::to_string(crc));
  }
  return status::ok();
}

} // namespace herald::storage
