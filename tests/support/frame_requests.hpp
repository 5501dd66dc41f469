#pragma once
// Request payloads (schema/wire.capnp Request) for system tests that speak
// raw frames through frame_client, and a response's error code. One
// partition (0) throughout: these tests are about the connection, not about
// placement.

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/frame.hpp"
#include "schema/wire.capnp.h"

namespace herald::test {

// createTopic `name` with one partition, replication factor 1.
std::vector<char> create_topic_request(const std::string& name);
// produce one record with `value` (key 1, no headers) to partition 0, acks leader.
std::vector<char> produce_request(const std::string& topic, const std::string& value);
// fetch from partition 0 at `offset`, up to `max_bytes`, waiting up to `max_wait_ms`.
std::vector<char> fetch_request(const std::string& topic, std::int64_t offset, std::uint32_t max_wait_ms,
                                std::uint32_t max_bytes = 1u << 20);
// listOffsets latest of partition 0.
std::vector<char> latest_offset_request(const std::string& topic);
std::vector<char> metadata_request();
std::vector<char> describe_topic_request(const std::string& name);

// The error code of a response frame's Response.
schema::ErrorCode response_error(const protocol::frame& f);

} // namespace herald::test
