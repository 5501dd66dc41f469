#include "replication/storage_errors.hpp"

#include <array>
#include <utility>

namespace herald::replication {
namespace {

using schema::ErrorCode;
using storage::errc;

// Indexed by errc; the static_assert below catches an errc added without a row.
constexpr std::array<std::pair<errc, ErrorCode>, 11> table{{
    {errc::ok, ErrorCode::NONE},
    {errc::io_error, ErrorCode::STORAGE_ERROR},
    {errc::no_space, ErrorCode::DISK_FULL},
    {errc::corrupt, ErrorCode::STORAGE_ERROR},
    {errc::invalid_batch, ErrorCode::CORRUPT_BATCH},
    {errc::batch_too_large, ErrorCode::RECORD_TOO_LARGE},
    {errc::offset_out_of_range, ErrorCode::OFFSET_OUT_OF_RANGE},
    {errc::locked, ErrorCode::STORAGE_ERROR},
    {errc::invalid_argument, ErrorCode::INVALID_REQUEST},
    {errc::damaged, ErrorCode::PARTITION_DAMAGED},
    {errc::cancelled, ErrorCode::PARTITION_UNAVAILABLE},
}};

constexpr bool rows_in_order() {
  for (std::size_t i = 0; i < table.size(); ++i)
    if (static_cast<std::size_t>(table[i].first) != i) return false;
  return true;
}
static_assert(rows_in_order(), "one row per storage::errc, in declaration order");
static_assert(static_cast<std::size_t>(errc::cancelled) + 1 == table.size(),
              "a storage::errc has no client error code");

} // namespace

schema::ErrorCode to_error_code(storage::errc code) {
  const auto i = static_cast<std::size_t>(code);
  return i < table.size() ? table[i].second : ErrorCode::INTERNAL;
}

} // namespace herald::replication
