#pragma once
// Many Raft messages for many partitions, from one broker to another, as one
// CAF message: the node actor coalesces what its replicas send to the same
// peer (actors/node_raft_transport.cpp), so a broker with thousands of Raft
// groups sends one message per peer per burst instead of one per group.
//
// Wire format, byte by byte (all integers little-endian, no padding):
//
//   offset  size  field
//   0       4     magic "HRB1" (0x48 0x52 0x42 0x31): Herald Raft batch, version 1
//   4       4     count: number of items that follow (u32)
//   8       ...   count items, each:
//                   2  topic_len (u16), 1..max_topic_bytes
//                   *  topic (topic_len bytes, the topic name, not terminated)
//                   4  partition (u32)
//                   4  payload_len (u32), 1..max_payload_bytes
//                   *  payload (payload_len bytes): one RaftEnvelope
//                      (schema/raft.capnp, flat serialization), opaque here
//
// The batch ends exactly after the last item. A decoder rejects anything
// else (bad magic, a count that the bytes do not hold, a length past the
// end, an empty topic or payload, trailing bytes) as a whole: it trusts
// nothing from the network, and a rejected batch is dropped, which Raft
// tolerates like any lost message.
//
// CAF-free and I/O-free.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace herald::wire {

inline constexpr std::size_t raft_batch_header_bytes = 8;
inline constexpr std::size_t raft_batch_item_overhead = 10;  // topic_len + partition + payload_len
inline constexpr std::size_t max_topic_bytes = 1024;
inline constexpr std::size_t max_payload_bytes = 256u << 20;

struct raft_batch_item {
  std::string_view topic;       // views into the decoded buffer
  std::uint32_t partition = 0;
  std::span<const char> payload;
};

class raft_batch_builder {
public:
  // False (and nothing added) if topic or payload is empty or too long.
  bool add(std::string_view topic, std::uint32_t partition, std::span<const char> payload);
  bool empty() const { return count_ == 0; }
  std::uint32_t count() const { return count_; }
  std::size_t size_bytes() const { return bytes_.size(); }
  // The finished batch; the builder is empty again afterwards.
  std::vector<char> take();

private:
  std::vector<char> bytes_;
  std::uint32_t count_ = 0;
};

// Never throws. nullopt (and *why, when given) on any malformed input.
std::optional<std::vector<raft_batch_item>> decode_raft_batch(std::span<const char> bytes,
                                                              std::string* why = nullptr);

}  // namespace herald::wire
