#include "storage/log_start.hpp"

#include "storage/checksummed_file.hpp"
#include "storage/little_endian.hpp"

namespace herald::storage {
namespace {

constexpr std::uint32_t magic = 0x53474c48;
constexpr std::uint32_t version = 1;

std::filesystem::path start_path(const std::filesystem::path& dir) { return dir / "log_start"; }

} // namespace

status save_log_start(const std::filesystem::path& dir, std::uint64_t log_start) {
  char body[8];
  le::put<std::uint64_t>(body, log_start);
  return save_checksummed_file(start_path(dir), magic, version, body);
}

result<std::optional<std::uint64_t>> load_log_start(const std::filesystem::path& dir) {
  auto body = load_checksummed_file(start_path(dir), magic, version, 8);
  if (!body) return body.error();
  if (!*body) return std::optional<std::uint64_t>{};
  return std::optional<std::uint64_t>{le::get<std::uint64_t>((*body)->data())};
}

} // namespace herald::storage
