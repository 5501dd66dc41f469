#include "storage/record_batch.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>

#include "schema/record.capnp.h"
#include "storage/compression.hpp"

namespace herald::storage {
namespace {

std::size_t round8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

// Upper bound of the Cap'n Proto bytes one record adds to the payload.
std::size_t record_wire_size(std::optional<std::string_view> key, std::string_view value,
                             std::span<const record_header> headers) {
  constexpr std::size_t record_struct = 6 * 8;  // 3 data words + 3 pointers
  constexpr std::size_t header_struct = 2 * 8;  // 2 pointers
  std::size_t n = record_struct + round8(key ? key->size() : 0) + round8(value.size());
  if (!headers.empty()) {
    n += 8;  // list tag
    for (const auto& h : headers) n += header_struct + round8(h.key.size() + 1) + round8(h.value.size());
  }
  return n;
}

// Wrap-around arithmetic: timestamps are producer input and must not be able
// to trigger signed overflow.
std::int64_t ts_sub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}
std::int64_t ts_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

capnp::Data::Reader as_data(std::string_view s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

std::string as_string(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}

status invalid(const std::string& what) { return {errc::invalid_batch, what}; }

// Holds the payload of one batch as Cap'n Proto words. Cap'n Proto 0.9.2
// refuses unaligned input, so a payload that does not start on an 8-byte
// boundary is copied first; aligned payloads (the usual case, since batches
// are multiples of 8 and buffers come from new[]) are read in place. A
// compressed payload is decompressed into an aligned buffer of its own.
class payload_words {
public:
  // Fills in the words of `batch` (header `h`, already through
  // check_decodable()); invalid_batch when a compressed payload is bad.
  status load(std::span<const char> batch, const batch_header& h,
              std::size_t max_plain = max_uncompressed_payload) {
    const auto payload = batch.subspan(batch_header_size);
    const auto c = static_cast<codec>(h.attributes & 0x7);
    if (c != codec::none) {
      auto plain = decompress_payload(c, payload, max_plain);
      if (!plain) return plain.error();
      plain_ = std::move(plain->words);
      words_ = {reinterpret_cast<const capnp::word*>(plain_.get()), plain->word_count};
      return status::ok();
    }
    const std::size_t n = payload.size() / sizeof(capnp::word);
    if (reinterpret_cast<std::uintptr_t>(payload.data()) % alignof(capnp::word) == 0) {
      words_ = {reinterpret_cast<const capnp::word*>(payload.data()), n};
    } else {
      copy_ = kj::heapArray<capnp::word>(n);
      std::memcpy(copy_.begin(), payload.data(), n * sizeof(capnp::word));
      words_ = copy_.asPtr();
    }
    return status::ok();
  }
  kj::ArrayPtr<const capnp::word> words() const { return words_; }

private:
  static_assert(sizeof(capnp::word) == sizeof(std::uint64_t) && alignof(capnp::word) <= alignof(std::uint64_t));
  kj::Array<capnp::word> copy_;
  std::unique_ptr<std::uint64_t[]> plain_;
  kj::ArrayPtr<const capnp::word> words_;
};

// Each reader reads the message once: every struct, list and blob is
// reached through one pointer, so a well-formed payload traverses about as
// many words as it has. Cap'n Proto lets pointers overlap, though: a few KiB
// in which every record points at the same value, or at the same header
// list, would read as many megabytes (up to the default 64 MiB limit, per
// batch, on the broker at every append and on every consumer). Bounding the
// traversal by the payload's own size keeps decoding proportional to the
// bytes received (the limit also counts each element of a list of empty
// structs as a word, which bounds that other amplification).
capnp::ReaderOptions reader_options(std::size_t words) {
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords = 2 * std::uint64_t{words} + 64;
  return opts;
}

// Checks what every decoder needs before touching the payload.
status check_decodable(std::span<const char> batch, const batch_header& h) {
  if (batch.size() < batch_header_size || h.length != batch.size()) {
    return invalid("batch length does not match its buffer");
  }
  if (h.length % 8 != 0) return invalid("batch length is not a multiple of 8");
  if (const unsigned c = h.attributes & 0x7; c > static_cast<unsigned>(codec::zstd)) {
    return invalid("unknown codec " + std::to_string(c));
  }
  // base_offset is outside the CRC; offsets that wrap past 2^64 would come
  // out of order (found by tests/fuzz/batch_fuzz.cpp).
  if (h.base_offset > std::numeric_limits<std::uint64_t>::max() - h.last_offset_delta) {
    return invalid("last offset " + std::to_string(h.base_offset) + " + " + std::to_string(h.last_offset_delta) +
                   " is past 2^64");
  }
  return status::ok();
}

std::string what_of(const kj::Exception& e) {
  return std::string(e.getDescription().cStr());
}

// A payload compressed with `c`, or with what stands in for it (see
// batch_builder::set_compression()); nullopt and codec::none: store it plain.
struct compressed_form {
  codec used = codec::none;
  std::optional<std::vector<char>> bytes;
};

compressed_form compress_with_fallback(codec c, int level, std::span<const char> plain) {
  compressed_form out;
  if (c == codec::none) return out;
  out.bytes = compress_payload(c, level, plain);
  out.used = c;
  if (!out.bytes && c == codec::zstd) {
    out.bytes = compress_payload(codec::lz4, default_compression_level, plain);
    out.used = codec::lz4;
  }
  if (!out.bytes) out.used = codec::none;
  return out;
}

// The whole batch: `h` (length, crc and the codec bits filled in here) and
// the payload `plain` compressed as `c` asks.
std::vector<char> seal_with_payload(batch_header h, codec c, int level, std::span<const char> plain) {
  const compressed_form compressed = compress_with_fallback(c, level, plain);
  const std::span<const char> payload = compressed.bytes ? std::span<const char>(*compressed.bytes) : plain;
  h.attributes =
      static_cast<std::uint16_t>((h.attributes & ~batch_codec_mask) | static_cast<std::uint16_t>(compressed.used));
  h.length = static_cast<std::uint32_t>(batch_header_size + payload.size());
  std::vector<char> out(h.length);
  encode_batch_header(h, out);
  std::memcpy(out.data() + batch_header_size, payload.data(), payload.size());
  seal_batch(out);
  return out;
}

} // namespace

bool expired(const record& r, std::int64_t now_ms) { return r.expires_at != 0 && r.expires_at <= now_ms; }

void batch_builder::add(std::int64_t timestamp, std::optional<std::string_view> key, std::string_view value,
                        std::span<const record_header> headers) {
  add_expiring(timestamp, 0, key, value, headers);
}

void batch_builder::add_expiring(std::int64_t timestamp, std::int64_t expires_at, std::optional<std::string_view> key,
                                 std::string_view value, std::span<const record_header> headers) {
  add_pending({timestamp, key ? std::optional<std::string>(std::string(*key)) : std::nullopt, std::string(value),
               std::vector<record_header>(headers.begin(), headers.end()), expires_at, false});
}

void batch_builder::add_tombstone(std::int64_t timestamp, std::string_view key,
                                  std::span<const record_header> headers) {
  add_pending({timestamp, std::string(key), {}, std::vector<record_header>(headers.begin(), headers.end()), 0, true});
}

void batch_builder::add_pending(pending p) {
  estimated_size_ += record_wire_size(p.key, p.value, p.headers);
  records_.push_back(std::move(p));
}

void batch_builder::set_producer(std::int64_t producer_id, std::int16_t epoch, std::int32_t base_sequence) {
  producer_id_ = producer_id;
  producer_epoch_ = epoch;
  base_sequence_ = base_sequence;
}

void batch_builder::set_compression(codec c, int level) {
  codec_ = c;
  level_ = level;
}

std::size_t batch_builder::estimated_size() const {
  if (codec_ == codec::none) return estimated_size_;
  // The payload comes out compressed with codec_, or with lz4 in its stead,
  // or plain, which is no larger than either bound.
  const std::size_t plain = estimated_size_ - batch_header_size;
  return batch_header_size +
         std::max(compressed_payload_bound(codec_, plain), compressed_payload_bound(codec::lz4, plain));
}

std::vector<char> batch_builder::build() {
  if (records_.empty()) return {};  // precondition broken: nothing to build
  const std::int64_t first_ts = records_.front().timestamp;
  std::int64_t max_ts = first_ts;

  // A first segment as large as the estimate keeps the message in a single
  // segment, so the flat array is as small as it can be.
  const std::size_t first_segment_words =
      std::min<std::size_t>((estimated_size_ - batch_header_size) / sizeof(capnp::word),
                            std::numeric_limits<kj::uint>::max());
  capnp::MallocMessageBuilder message(static_cast<kj::uint>(first_segment_words));
  auto root = message.initRoot<schema::RecordBatchPayload>();
  auto list = root.initRecords(static_cast<kj::uint>(records_.size()));
  for (kj::uint i = 0; i < records_.size(); ++i) {
    const pending& p = records_[i];
    auto r = list[i];
    r.setOffsetDelta(i);
    r.setTimestampDelta(ts_sub(p.timestamp, first_ts));
    max_ts = std::max(max_ts, p.timestamp);
    if (p.key) r.setKey(as_data(*p.key));
    r.setValue(as_data(p.value));
    if (p.expires_at != 0) r.setExpiresAt(p.expires_at);
    if (p.tombstone) r.setValueNull(true);
    if (!p.headers.empty()) {
      auto hs = r.initHeaders(static_cast<kj::uint>(p.headers.size()));
      for (kj::uint j = 0; j < p.headers.size(); ++j) {
        hs[j].setKey(capnp::Text::Reader(p.headers[j].key.c_str(), p.headers[j].key.size()));
        hs[j].setValue(as_data(p.headers[j].value));
      }
    }
  }
  const kj::Array<capnp::word> flat = capnp::messageToFlatArray(message);
  const auto plain = flat.asChars();

  batch_header h;
  h.record_count = static_cast<std::uint32_t>(records_.size());
  h.last_offset_delta = h.record_count - 1;
  h.first_timestamp = first_ts;
  h.max_timestamp = max_ts;
  h.producer_id = producer_id_;
  h.producer_epoch = producer_epoch_;
  h.base_sequence = base_sequence_;
  std::vector<char> out = seal_with_payload(h, codec_, level_, std::span<const char>(plain.begin(), plain.size()));

  records_.clear();
  estimated_size_ = batch_header_size + 64;
  return out;
}

status validate_batch_deep(std::span<const char> batch, std::size_t max_batch_bytes) {
  // By the header's declared length first: nothing else is looked at.
  const batch_header declared = decode_batch_header(batch);
  if (std::max<std::size_t>(declared.length, batch.size()) > max_batch_bytes) {
    return {errc::batch_too_large, "batch of " + std::to_string(std::max<std::size_t>(declared.length, batch.size())) +
                                     " bytes exceeds the limit of " + std::to_string(max_batch_bytes)};
  }
  if (auto s = validate_batch(batch); !s) return s;
  const batch_header h = decode_batch_header(batch);
  if (auto s = check_decodable(batch, h); !s) return s;

  payload_words words;
  const std::size_t max_plain =
    max_batch_bytes <= batch_header_size ? 0 : std::min(max_batch_bytes - batch_header_size, max_uncompressed_payload);
  if (auto s = words.load(batch, h, max_plain); !s) return s;
  try {
    capnp::FlatArrayMessageReader reader(words.words(), reader_options(words.words().size()));
    if (reader.getEnd() != words.words().end()) return invalid("trailing bytes after the payload message");
    const auto records = reader.getRoot<schema::RecordBatchPayload>().getRecords();
    if (records.size() != h.record_count) {
      return invalid("payload holds " + std::to_string(records.size()) + " records, header says " +
                     std::to_string(h.record_count));
    }
    std::uint32_t prev = 0;
    for (kj::uint i = 0; i < records.size(); ++i) {
      const auto r = records[i];
      const std::uint32_t delta = r.getOffsetDelta();
      if (i > 0 && delta <= prev) return invalid("offsetDelta not strictly increasing at record " + std::to_string(i));
      if (delta > h.last_offset_delta) {
        return invalid("offsetDelta past last_offset_delta at record " + std::to_string(i));
      }
      prev = delta;
      // Touch every pointer so that bounds and type problems surface here,
      // on append, rather than on some consumer later.
      (void)r.getKey();
      const auto value = r.getValue();
      if (r.getValueNull() && (!r.hasKey() || value.size() != 0)) {
        return invalid("tombstone without a key or with a value at record " + std::to_string(i));
      }
      for (const auto hd : r.getHeaders()) {
        (void)hd.getKey();
        (void)hd.getValue();
      }
    }
    // The cleaner may have removed the last record of a compacted batch;
    // its header still covers the offsets the batch was appended with.
    if (!h.is_compacted() && prev != h.last_offset_delta) {
      return invalid("last record has offsetDelta " + std::to_string(prev) + ", header says " +
                     std::to_string(h.last_offset_delta));
    }
  } catch (const kj::Exception& e) {
    return invalid("payload does not decode: " + what_of(e));
  } catch (const std::exception& e) {
    return invalid(std::string("payload does not decode: ") + e.what());
  }
  return status::ok();
}

status for_each_record(std::span<const char> batch, std::uint64_t min_offset,
                       const std::function<void(record&&)>& fn) {
  const batch_header h = decode_batch_header(batch);
  if (auto s = check_decodable(batch, h); !s) return s;

  payload_words words;
  if (auto s = words.load(batch, h); !s) return s;
  std::optional<capnp::FlatArrayMessageReader> reader;
  capnp::List<schema::Record>::Reader records;
  try {
    reader.emplace(words.words(), reader_options(words.words().size()));
    records = reader->getRoot<schema::RecordBatchPayload>().getRecords();
  } catch (const kj::Exception& e) {
    return invalid("payload does not decode: " + what_of(e));
  }

  // The cheap parts of validate_batch_deep(), so that even a batch that
  // never went through it yields no record outside the batch's offsets and
  // no more records than the header promises (a payload can otherwise list
  // millions of empty records in a few bytes).
  if (records.size() != h.record_count) {
    return invalid("payload holds " + std::to_string(records.size()) + " records, header says " +
                   std::to_string(h.record_count));
  }

  // `fn` is called outside the try blocks: its own exceptions are the
  // caller's business and must not be mistaken for a bad payload.
  std::uint32_t prev = 0;
  for (kj::uint i = 0; i < records.size(); ++i) {
    record out;
    try {
      const auto r = records[i];
      const std::uint32_t delta = r.getOffsetDelta();
      if ((i > 0 && delta <= prev) || delta > h.last_offset_delta) {
        return invalid("record " + std::to_string(i) + " has offsetDelta " + std::to_string(delta) +
                       " out of order or past the batch");
      }
      prev = delta;
      out.offset = h.base_offset + delta;
      if (out.offset < min_offset) continue;
      out.timestamp = ts_add(h.first_timestamp, r.getTimestampDelta());
      if (r.hasKey()) out.key = as_string(r.getKey());
      out.value = as_string(r.getValue());
      out.expires_at = r.getExpiresAt();
      out.tombstone = r.getValueNull();
      for (const auto hd : r.getHeaders()) {
        const auto k = hd.getKey();
        out.headers.push_back({std::string(k.begin(), k.size()), as_string(hd.getValue())});
      }
    } catch (const kj::Exception& e) {
      return invalid("record " + std::to_string(i) + " does not decode: " + what_of(e));
    }
    fn(std::move(out));
  }
  return status::ok();
}

result<std::vector<char>> filter_batch(std::span<const char> batch, const std::vector<bool>& keep) {
  const batch_header h = decode_batch_header(batch);
  if (h.is_control()) return status{errc::invalid_argument, "a control batch is never compacted"};
  if (keep.size() != h.record_count) {
    return status{errc::invalid_argument, "keep has " + std::to_string(keep.size()) + " entries for " +
                                              std::to_string(h.record_count) + " records"};
  }
  if (auto s = check_decodable(batch, h); !s) return s;
  payload_words words;
  if (auto s = words.load(batch, h); !s) return s;

  const auto kept = static_cast<kj::uint>(std::count(keep.begin(), keep.end(), true));
  // The kept records are a part of the payload: its size is enough for one
  // segment, so the flat array needs no segment table beyond one entry.
  capnp::MallocMessageBuilder message(static_cast<kj::uint>(std::min<std::size_t>(
      words.words().size() + 8, std::numeric_limits<kj::uint>::max())));
  try {
    capnp::FlatArrayMessageReader reader(words.words(), reader_options(words.words().size()));
    const auto records = reader.getRoot<schema::RecordBatchPayload>().getRecords();
    if (records.size() != h.record_count) {
      return invalid("payload holds " + std::to_string(records.size()) + " records, header says " +
                     std::to_string(h.record_count));
    }
    auto list = message.initRoot<schema::RecordBatchPayload>().initRecords(kept);
    kj::uint j = 0;
    for (kj::uint i = 0; i < records.size(); ++i) {
      // A struct copy: every field, offsetDelta and timestampDelta included.
      if (keep[i]) list.setWithCaveats(j++, records[i]);
    }
  } catch (const kj::Exception& e) {
    return invalid("payload does not decode: " + what_of(e));
  }
  const kj::Array<capnp::word> flat = capnp::messageToFlatArray(message);
  const auto plain = flat.asChars();

  batch_header out = h;
  out.record_count = kept;
  out.attributes = static_cast<std::uint16_t>(h.attributes | batch_compacted_bit);
  // The level the producer chose is not recorded; the codec's default is.
  return seal_with_payload(out, static_cast<codec>(h.attributes & batch_codec_mask), default_compression_level,
                           std::span<const char>(plain.begin(), plain.size()));
}

status for_each_batch(std::span<const char> batches, const std::function<void(std::span<const char>)>& fn) {
  std::size_t pos = 0;
  while (pos < batches.size()) {
    const auto rest = batches.subspan(pos);
    if (rest.size() < batch_header_size) {
      return {errc::corrupt, "truncated batch header at byte " + std::to_string(pos)};
    }
    const std::uint32_t length = decode_batch_header(rest).length;
    if (length < batch_header_size || length > rest.size()) {
      return {errc::corrupt, "batch at byte " + std::to_string(pos) + " has length " + std::to_string(length) +
                                 " but " + std::to_string(rest.size()) + " bytes remain"};
    }
    const auto batch = rest.first(length);
    if (auto s = validate_batch(batch); !s) {
      return {errc::corrupt, "batch at byte " + std::to_string(pos) + ": " + s.message};
    }
    fn(batch);
    pos += length;
  }
  return status::ok();
}

} // namespace herald::storage
