#include "storage/durable_watermark.hpp"

#include <system_error>

#include "storage/atomic_file.hpp"
#include "storage/checksummed_file.hpp"
#include "storage/little_endian.hpp"

namespace herald::storage {
namespace {

constexpr std::uint32_t magic = 0x4d574448;
constexpr std::uint32_t version = 1;

std::filesystem::path watermark_path(const std::filesystem::path& dir) { return dir / "durable_watermark"; }

} // namespace

status save_durable_watermark(const std::filesystem::path& dir, const durable_watermark& w) {
  char body[16];
  le::put<std::uint64_t>(body, w.segment_base);
  le::put<std::uint64_t>(body + 8, w.position);
  return save_checksummed_file(watermark_path(dir), magic, version, body);
}

result<std::optional<durable_watermark>> load_durable_watermark(const std::filesystem::path& dir) {
  auto body = load_checksummed_file(watermark_path(dir), magic, version, 16);
  if (!body) return body.error();
  if (!*body) return std::optional<durable_watermark>{};
  const char* b = (*body)->data();
  return std::optional<durable_watermark>{durable_watermark{le::get<std::uint64_t>(b), le::get<std::uint64_t>(b + 8)}};
}

status remove_durable_watermark(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::remove(watermark_path(dir), ec)) {
    if (ec) return {errc::io_error, "remove " + watermark_path(dir).string() + ": " + ec.message()};
    return status::ok();
  }
  return sync_directory(dir);
}

} // namespace herald::storage
