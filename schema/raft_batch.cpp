#include "schema/raft_batch.hpp"

#include <cstring>

namespace herald::wire {

namespace {

constexpr char magic[4] = {'H', 'R', 'B', '1'};

void put_le(std::vector<char>& out, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_le(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

bool raft_batch_builder::add(std::string_view topic, std::uint32_t partition, std::span<const char> payload) {
  if (topic.empty() || topic.size() > max_topic_bytes || payload.empty() || payload.size() > max_payload_bytes)
    return false;
  if (bytes_.empty()) {
    bytes_.insert(bytes_.end(), magic, magic + 4);
    put_le(bytes_, 0, 4);  // count, patched in take()
  }
  bytes_.reserve(bytes_.size() + raft_batch_item_overhead + topic.size() + payload.size());
  put_le(bytes_, topic.size(), 2);
  bytes_.insert(bytes_.end(), topic.begin(), topic.end());
  put_le(bytes_, partition, 4);
  put_le(bytes_, payload.size(), 4);
  bytes_.insert(bytes_.end(), payload.begin(), payload.end());
  ++count_;
  return true;
}

std::vector<char> raft_batch_builder::take() {
  if (count_ == 0) return {};
  for (int i = 0; i < 4; ++i) bytes_[4 + i] = static_cast<char>((count_ >> (8 * i)) & 0xff);
  count_ = 0;
  std::vector<char> out;
  out.swap(bytes_);
  return out;
}

std::optional<std::vector<raft_batch_item>> decode_raft_batch(std::span<const char> bytes, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<std::vector<raft_batch_item>> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (bytes.size() < raft_batch_header_bytes) return fail("shorter than the batch header");
  if (std::memcmp(bytes.data(), magic, 4) != 0) return fail("bad magic (not a Raft batch, or another version)");
  const std::uint64_t count = get_le(bytes.data() + 4, 4);
  // Every item takes at least its overhead plus one topic and one payload
  // byte: a count the bytes cannot hold is refused before allocating.
  if (count == 0) return fail("empty batch");
  if (count > (bytes.size() - raft_batch_header_bytes) / (raft_batch_item_overhead + 2))
    return fail("count " + std::to_string(count) + " exceeds what " + std::to_string(bytes.size()) +
                " bytes can hold");
  std::vector<raft_batch_item> items;
  items.reserve(static_cast<std::size_t>(count));
  std::size_t pos = raft_batch_header_bytes;
  const std::size_t end = bytes.size();
  for (std::uint64_t k = 0; k < count; ++k) {
    const std::string at = " (item " + std::to_string(k) + ")";
    if (end - pos < 2) return fail("truncated topic length" + at);
    const std::size_t topic_len = get_le(bytes.data() + pos, 2);
    pos += 2;
    if (topic_len == 0 || topic_len > max_topic_bytes) return fail("bad topic length" + at);
    if (end - pos < topic_len + 8) return fail("truncated topic or partition" + at);
    raft_batch_item item;
    item.topic = std::string_view(bytes.data() + pos, topic_len);
    pos += topic_len;
    item.partition = static_cast<std::uint32_t>(get_le(bytes.data() + pos, 4));
    const std::size_t payload_len = get_le(bytes.data() + pos + 4, 4);
    pos += 8;
    if (payload_len == 0 || payload_len > max_payload_bytes) return fail("bad payload length" + at);
    if (end - pos < payload_len) return fail("payload runs past the end" + at);
    item.payload = bytes.subspan(pos, payload_len);
    pos += payload_len;
    items.push_back(item);
  }
  if (pos != end) return fail(std::to_string(end - pos) + " trailing bytes after the last item");
  return items;
}

}  // namespace herald::wire
