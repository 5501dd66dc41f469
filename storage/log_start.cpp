#include "storage/log_start.hpp"

#include <array>
#include <string>
#include <system_error>

#include "storage/atomic_file.hpp"
#include "storage/crc32c.hpp"
#include "storage/little_endian.hpp"

namespace herald::storage {
namespace {

constexpr std::uint32_t magic = 0x53474c48;
constexpr std::uint32_t version = 1;
constexpr std::size_t file_size = 20;
constexpr std::size_t crc_offset = 16;

std::filesystem::path start_path(const std::filesystem::path& dir) { return dir / "log_start"; }

} // namespace

status save_log_start(const std::filesystem::path& dir, std::uint64_t log_start) {
  std::array<char, file_size> bytes{};
  le::put<std::uint32_t>(bytes.data(), magic);
  le::put<std::uint32_t>(bytes.data() + 4, version);
  le::put<std::uint64_t>(bytes.data() + 8, log_start);
  le::put<std::uint32_t>(bytes.data() + crc_offset, crc32c(bytes.data(), crc_offset));
  return write_file_atomically(start_path(dir), bytes);
}

result<std::optional<std::uint64_t>> load_log_start(const std::filesystem::path& dir) {
  const auto path = start_path(dir);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) return status{errc::io_error, "stat " + path.string() + ": " + ec.message()};
    return std::optional<std::uint64_t>{};
  }
  auto bytes = read_whole_file(path);
  if (!bytes) return bytes.error();
  auto bad = [&](const std::string& what) { return status{errc::corrupt, path.string() + ": " + what}; };
  if (bytes->size() != file_size) return bad("size " + std::to_string(bytes->size()) + ", expected 20");
  const char* p = bytes->data();
  if (le::get<std::uint32_t>(p + crc_offset) != crc32c(p, crc_offset)) return bad("crc mismatch");
  if (le::get<std::uint32_t>(p) != magic) return bad("bad magic");
  if (le::get<std::uint32_t>(p + 4) != version) return bad("unknown version " + std::to_string(le::get<std::uint32_t>(p + 4)));
  return std::optional<std::uint64_t>{le::get<std::uint64_t>(p + 8)};
}

} // namespace herald::storage
