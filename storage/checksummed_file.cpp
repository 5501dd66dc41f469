#include "storage/checksummed_file.hpp"

#include <algorithm>
#include <string>
#include <system_error>

#include "storage/atomic_file.hpp"
#include "storage/crc32c.hpp"
#include "storage/little_endian.hpp"

namespace herald::storage {

namespace {
constexpr std::size_t prefix_size = 8;  // magic + version
constexpr std::size_t crc_size = 4;
} // namespace

status save_checksummed_file(const std::filesystem::path& path, std::uint32_t magic, std::uint32_t version,
                             std::span<const char> body) {
  std::vector<char> bytes(prefix_size + body.size() + crc_size);
  le::put<std::uint32_t>(bytes.data(), magic);
  le::put<std::uint32_t>(bytes.data() + 4, version);
  std::copy(body.begin(), body.end(), bytes.begin() + prefix_size);
  const std::size_t crc_offset = prefix_size + body.size();
  le::put<std::uint32_t>(bytes.data() + crc_offset, crc32c(bytes.data(), crc_offset));
  return write_file_atomically(path, bytes);
}

result<std::optional<std::vector<char>>> load_checksummed_file(const std::filesystem::path& path,
                                                               std::uint32_t magic, std::uint32_t version,
                                                               std::size_t body_size) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) return status{errc::io_error, "stat " + path.string() + ": " + ec.message()};
    return std::optional<std::vector<char>>{};
  }
  auto bytes = read_whole_file(path);
  if (!bytes) return bytes.error();
  auto bad = [&](const std::string& what) { return status{errc::corrupt, path.string() + ": " + what}; };
  const std::size_t file_size = prefix_size + body_size + crc_size;
  if (bytes->size() != file_size)
    return bad("size " + std::to_string(bytes->size()) + ", expected " + std::to_string(file_size));
  const char* p = bytes->data();
  const std::size_t crc_offset = prefix_size + body_size;
  if (le::get<std::uint32_t>(p + crc_offset) != crc32c(p, crc_offset)) return bad("crc mismatch");
  if (le::get<std::uint32_t>(p) != magic) return bad("bad magic");
  if (le::get<std::uint32_t>(p + 4) != version)
    return bad("unknown version " + std::to_string(le::get<std::uint32_t>(p + 4)));
  return std::optional<std::vector<char>>{std::vector<char>(p + prefix_size, p + crc_offset)};
}

} // namespace herald::storage
