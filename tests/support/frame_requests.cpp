#include "tests/support/frame_requests.hpp"

#include <capnp/message.h>

#include "schema/wire.hpp"
#include "storage/record_batch.hpp"

namespace herald::test {

std::vector<char> create_topic_request(const std::string& name) {
  capnp::MallocMessageBuilder b;
  auto c = b.initRoot<schema::Request>().initCreateTopic();
  c.setName(name);
  c.setPartitions(1);
  c.setReplicationFactor(1);
  return wire::to_bytes(b);
}

std::vector<char> produce_request(const std::string& topic, const std::string& value) {
  storage::batch_builder builder;
  builder.add(1, std::nullopt, value);
  auto batch = builder.build();
  capnp::MallocMessageBuilder b;
  auto p = b.initRoot<schema::Request>().initProduce();
  p.setTopic(topic);
  p.setPartition(0);
  p.setAcks(schema::Acks::LEADER);
  p.setBatch(kj::arrayPtr(reinterpret_cast<const kj::byte*>(batch.data()), batch.size()));
  return wire::to_bytes(b);
}

std::vector<char> fetch_request(const std::string& topic, std::int64_t offset, std::uint32_t max_wait_ms,
                                std::uint32_t max_bytes) {
  capnp::MallocMessageBuilder b;
  auto f = b.initRoot<schema::Request>().initFetch();
  f.setTopic(topic);
  f.setPartition(0);
  f.setOffset(offset);
  f.setMaxBytes(max_bytes);
  f.setMaxWaitMs(max_wait_ms);
  return wire::to_bytes(b);
}

std::vector<char> latest_offset_request(const std::string& topic) {
  capnp::MallocMessageBuilder b;
  auto l = b.initRoot<schema::Request>().initListOffsets();
  l.setTopic(topic);
  l.setPartition(0);
  l.setLatest();
  return wire::to_bytes(b);
}

std::vector<char> metadata_request() {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::Request>().initMetadata();
  return wire::to_bytes(b);
}

std::vector<char> describe_topic_request(const std::string& name) {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::Request>().initDescribeTopic().setName(name);
  return wire::to_bytes(b);
}

schema::ErrorCode response_error(const protocol::frame& f) {
  wire::message_reader r(f.payload);
  return r.root<schema::Response>().getError().getCode();
}

} // namespace herald::test
