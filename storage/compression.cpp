#include "storage/compression.hpp"

#include <lz4.h>
#include <lz4hc.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

namespace herald::storage {
namespace {

static_assert(max_uncompressed_payload <= static_cast<std::size_t>(LZ4_MAX_INPUT_SIZE));

void put_u32(char* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(static_cast<unsigned char>(v >> (8 * i)));
}

std::uint32_t get_u32(const char* in) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

std::size_t round8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

status invalid(const std::string& what) { return {errc::invalid_batch, std::string("compressed payload: ") + what}; }

// One compression and one decompression context per thread: zstd contexts
// are costly to create, and a broker decodes many small batches.
struct cctx_deleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct dctx_deleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

ZSTD_CCtx* zstd_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, cctx_deleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}

ZSTD_DCtx* zstd_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, dctx_deleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

std::size_t data_bound(codec c, std::size_t n) {
  switch (c) {
    case codec::lz4:
      return n <= max_uncompressed_payload ? static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(n))) : n;
    case codec::zstd:
      return ZSTD_compressBound(n);
    case codec::none:
      break;
  }
  return n;
}

} // namespace

const char* to_string(codec c) {
  switch (c) {
    case codec::none: return "none";
    case codec::lz4: return "lz4";
    case codec::zstd: return "zstd";
  }
  return "unknown";
}

std::size_t compressed_payload_bound(codec c, std::size_t plain_size) {
  return round8(compressed_prefix_size + data_bound(c, plain_size));
}

std::optional<std::vector<char>> compress_payload(codec c, int level, std::span<const char> plain) {
  if (plain.empty() || plain.size() % 8 != 0 || plain.size() > max_uncompressed_payload) return std::nullopt;
  const std::size_t bound = data_bound(c, plain.size());
  std::vector<char> out(compressed_prefix_size + bound);
  char* data = out.data() + compressed_prefix_size;
  std::size_t n = 0;
  switch (c) {
    case codec::lz4: {
      const int src = static_cast<int>(plain.size());
      const int cap = static_cast<int>(bound);
      const int r = level <= 0 ? LZ4_compress_default(plain.data(), data, src, cap)
                               : LZ4_compress_HC(plain.data(), data, src, cap, std::min(level, LZ4HC_CLEVEL_MAX));
      if (r <= 0) return std::nullopt;
      n = static_cast<std::size_t>(r);
      break;
    }
    case codec::zstd: {
      const int lvl = level == 0 ? ZSTD_CLEVEL_DEFAULT : std::clamp(level, ZSTD_minCLevel(), ZSTD_maxCLevel());
      ZSTD_CCtx* ctx = zstd_cctx();
      if (ctx == nullptr) return std::nullopt;
      const std::size_t r = ZSTD_compressCCtx(ctx, data, bound, plain.data(), plain.size(), lvl);
      if (ZSTD_isError(r) || r == 0) return std::nullopt;
      n = r;
      break;
    }
    case codec::none:
      return std::nullopt;
  }
  if (plain.size() > max_compression_ratio * n) return std::nullopt;
  put_u32(out.data(), static_cast<std::uint32_t>(plain.size()));
  put_u32(out.data() + 4, static_cast<std::uint32_t>(n));
  out.resize(round8(compressed_prefix_size + n));  // shrinks; the padding is zero-filled
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(compressed_prefix_size + n), out.end(), char{0});
  return out;
}

result<decompressed_payload> decompress_payload(codec c, std::span<const char> payload, std::size_t max_plain) {
  if (payload.size() < compressed_prefix_size) {
    return invalid(std::to_string(payload.size()) + " bytes, shorter than its 8-byte prefix");
  }
  const std::uint32_t plain_len = get_u32(payload.data());
  const std::uint32_t data_len = get_u32(payload.data() + 4);
  if (plain_len > max_plain && max_plain < max_uncompressed_payload) {
    return status{errc::batch_too_large, "uncompressed payload of " + std::to_string(plain_len) +
                                           " bytes exceeds the limit of " + std::to_string(max_plain)};
  }
  if (plain_len == 0 || plain_len % 8 != 0 || plain_len > max_uncompressed_payload) {
    return invalid("uncompressed length " + std::to_string(plain_len) + " is not a multiple of 8 in [8, " +
                   std::to_string(max_uncompressed_payload) + "]");
  }
  const std::size_t room = payload.size() - compressed_prefix_size;
  if (data_len == 0 || data_len > room || room - data_len >= 8) {
    return invalid("compressed length " + std::to_string(data_len) + " does not fit the " + std::to_string(room) +
                   " bytes after the prefix");
  }
  if (plain_len > max_compression_ratio * std::size_t{data_len}) {
    return invalid("uncompressed length " + std::to_string(plain_len) + " exceeds " +
                   std::to_string(max_compression_ratio) + " times the compressed length " + std::to_string(data_len));
  }
  const char* data = payload.data() + compressed_prefix_size;
  if (std::any_of(data + data_len, payload.data() + payload.size(), [](char b) { return b != 0; })) {
    return invalid("padding is not zero");
  }

  if (c == codec::zstd) {
    // Cheap checks before allocating: one frame, exactly data_len bytes, and
    // no contradicting content size.
    const std::size_t frame = ZSTD_findFrameCompressedSize(data, data_len);
    if (ZSTD_isError(frame) || frame != data_len) return invalid("zstd data is not exactly one frame");
    const unsigned long long content = ZSTD_getFrameContentSize(data, data_len);
    if (content == ZSTD_CONTENTSIZE_ERROR) return invalid("zstd frame header is invalid");
    if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != plain_len) {
      return invalid("zstd frame holds " + std::to_string(content) + " bytes, prefix says " + std::to_string(plain_len));
    }
  } else if (c != codec::lz4) {
    return invalid(std::string("codec ") + to_string(c) + " is not a compression codec");
  }

  decompressed_payload out;
  out.word_count = plain_len / 8;
  out.words = std::make_unique_for_overwrite<std::uint64_t[]>(out.word_count);
  char* dst = reinterpret_cast<char*>(out.words.get());
  if (c == codec::lz4) {
    const int r = LZ4_decompress_safe(data, dst, static_cast<int>(data_len), static_cast<int>(plain_len));
    if (r < 0) return invalid("lz4 block does not decode");
    if (static_cast<std::uint32_t>(r) != plain_len) {
      return invalid("lz4 block decodes to " + std::to_string(r) + " bytes, prefix says " + std::to_string(plain_len));
    }
  } else {
    ZSTD_DCtx* ctx = zstd_dctx();
    if (ctx == nullptr) return status{errc::io_error, "out of memory for a zstd context"};
    const std::size_t r = ZSTD_decompressDCtx(ctx, dst, plain_len, data, data_len);
    if (ZSTD_isError(r)) return invalid(std::string("zstd frame does not decode: ") + ZSTD_getErrorName(r));
    if (r != plain_len) {
      return invalid("zstd frame decodes to " + std::to_string(r) + " bytes, prefix says " + std::to_string(plain_len));
    }
  }
  return out;
}

} // namespace herald::storage
