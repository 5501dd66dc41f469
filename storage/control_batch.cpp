#include "storage/control_batch.hpp"

#include <optional>
#include <string>
#include <string_view>

#include "storage/batch_header.hpp"
#include "storage/record_batch.hpp"

namespace herald::storage {
namespace {

constexpr std::string_view noop_key = "herald.raft.noop";
constexpr std::string_view config_key = "herald.raft.config";

std::string_view key_of(control_kind kind) {
  return kind == control_kind::raft_noop ? noop_key : config_key;
}

std::optional<control_kind> kind_of(std::string_view key) {
  if (key == noop_key) return control_kind::raft_noop;
  if (key == config_key) return control_kind::raft_configuration;
  return std::nullopt;
}

status invalid(std::string what) { return {errc::invalid_batch, std::move(what)}; }

} // namespace

std::vector<char> build_control_batch(control_kind kind, std::span<const char> value, std::int64_t timestamp) {
  batch_builder builder;
  builder.add(timestamp, key_of(kind), std::string_view(value.data(), value.size()));
  std::vector<char> batch = builder.build();
  batch_header h = decode_batch_header(batch);
  h.attributes |= batch_control_bit;
  encode_batch_header(h, batch);
  seal_batch(batch);
  return batch;
}

bool is_control_batch(std::span<const char> batch) { return decode_batch_header(batch).is_control(); }

result<control_record> read_control_batch(std::span<const char> batch) {
  if (auto s = validate_batch(batch); !s) return s;
  if (!is_control_batch(batch)) return invalid("not a control batch");
  std::optional<control_record> out;
  status bad = status::ok();
  const status s = for_each_record(batch, 0, [&](record&& r) {
    const auto kind = r.key ? kind_of(*r.key) : std::nullopt;
    if (!kind) {
      bad = invalid("control record with unknown key");
      return;
    }
    out = control_record{*kind, std::vector<char>(r.value.begin(), r.value.end())};
  });
  if (!s) return s;
  if (!bad) return bad;
  if (!out) return invalid("control batch without a record");
  return std::move(*out);
}

} // namespace herald::storage
