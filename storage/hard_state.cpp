#include "storage/hard_state.hpp"

#include "storage/checksummed_file.hpp"
#include "storage/little_endian.hpp"

namespace herald::storage {
namespace {

constexpr std::uint32_t magic = 0x53484848;
constexpr std::uint32_t version = 1;

std::filesystem::path state_path(const std::filesystem::path& dir) { return dir / "hard_state"; }

} // namespace

status save_hard_state(const std::filesystem::path& dir, const hard_state& state) {
  char body[16];
  le::put<std::uint64_t>(body, state.term);
  le::put<std::int64_t>(body + 8, state.voted_for);
  return save_checksummed_file(state_path(dir), magic, version, body);
}

result<std::optional<hard_state>> load_hard_state(const std::filesystem::path& dir) {
  auto body = load_checksummed_file(state_path(dir), magic, version, 16);
  if (!body) return body.error();
  if (!*body) return std::optional<hard_state>{};
  const char* p = (*body)->data();
  return std::optional<hard_state>{hard_state{le::get<std::uint64_t>(p), le::get<std::int64_t>(p + 8)}};
}

} // namespace herald::storage
