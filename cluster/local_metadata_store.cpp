#include "cluster/local_metadata_store.hpp"

#include <capnp/message.h>
#include <kj/exception.h>

#include <algorithm>
#include <optional>
#include <span>
#include <vector>

#include "schema/metadata.capnp.h"
#include "cluster/topic_schema.hpp"
#include "schema/wire.hpp"
#include "storage/atomic_file.hpp"
#include "storage/crc32c.hpp"
#include "storage/little_endian.hpp"

namespace herald::cluster {

namespace {

constexpr std::uint32_t format_version = 1;

// metadata.bin is framed so that a flipped bit is found, not believed (a
// flipped topic id would point a topic at a new, empty directory):
//   off size field
//     0    4 magic   0x444d5248 ("HRMD" in file order), u32 LE
//     4    4 crc     CRC32C of the body, u32 LE
//     8    8 length  bytes of body, u64 LE
//    16    n body    a LocalMetadata message (schema/metadata.capnp), flat
// A file from before the frame (a bare message, whose first word is the
// segment count minus one: 0 for the single segment it was written with)
// is read as it is and framed at the next change.
constexpr std::uint32_t frame_magic = 0x444d5248;
constexpr std::size_t frame_size = 16;

std::vector<char> frame(std::span<const char> body) {
  std::vector<char> out(frame_size + body.size());
  storage::le::put<std::uint32_t>(out.data(), frame_magic);
  storage::le::put<std::uint32_t>(out.data() + 4, storage::crc32c(body.data(), body.size()));
  storage::le::put<std::uint64_t>(out.data() + 8, body.size());
  std::copy(body.begin(), body.end(), out.begin() + frame_size);
  return out;
}

storage::result<std::vector<char>> unframe(const std::filesystem::path& path, std::vector<char> bytes) {
  auto damaged = [&](const std::string& why) {
    return storage::status{storage::errc::corrupt, path.string() + ": " + why +
                                                     "; the broker will not guess its topics (restore it from a "
                                                     "backup, or move it away to start without topics)"};
  };
  if (bytes.size() >= 4 && storage::le::get<std::uint32_t>(bytes.data()) == 0) return bytes;  // unframed, older
  if (bytes.size() < frame_size || storage::le::get<std::uint32_t>(bytes.data()) != frame_magic)
    return damaged("bad magic");
  const auto length = storage::le::get<std::uint64_t>(bytes.data() + 8);
  if (length != bytes.size() - frame_size) return damaged("length " + std::to_string(length) + " but " +
                                                         std::to_string(bytes.size() - frame_size) + " bytes");
  if (storage::le::get<std::uint32_t>(bytes.data() + 4) != storage::crc32c(bytes.data() + frame_size, length))
    return damaged("CRC mismatch");
  bytes.erase(bytes.begin(), bytes.begin() + frame_size);
  return bytes;
}

} // namespace

storage::result<std::unique_ptr<local_metadata_store>>
local_metadata_store::open(const std::filesystem::path& data_dir, std::int32_t node_id) {
  std::unique_ptr<local_metadata_store> store{
    new local_metadata_store(data_dir / "metadata.bin", node_id)};
  std::error_code ec;
  if (!std::filesystem::exists(store->file_, ec))
    return store;
  auto raw = storage::read_whole_file(store->file_);
  if (!raw)
    return raw.error();
  auto bytes = unframe(store->file_, std::move(*raw));
  if (!bytes)
    return bytes.error();
  try {
    wire::message_reader reader(*bytes);
    auto root = reader.root<schema::LocalMetadata>();
    if (root.getFormatVersion() != format_version)
      return storage::status{storage::errc::corrupt,
                             store->file_.string() + ": unsupported metadata format version "
                               + std::to_string(root.getFormatVersion())};
    store->next_topic_id_ = root.getNextTopicId();
    for (auto t : root.getTopics()) {
      topic_descriptor d;
      d.name = t.getName().cStr();
      d.id = t.getId();
      d.partition_count = t.getPartitionCount();
      d.replication_factor = t.getReplicationFactor();
      d.config = read_topic_config(t.getConfig(), topic_config{});
      d.owner = t.getOwner().cStr();  // absent in older files: no owner
      store->topics_.emplace(d.name, d);
    }
  } catch (const kj::Exception& e) {
    return storage::status{storage::errc::corrupt,
                           store->file_.string() + " does not parse: " + e.getDescription().cStr()};
  }
  return store;
}

const topic_descriptor* local_metadata_store::find(const std::string& name) const {
  auto i = topics_.find(name);
  return i == topics_.end() ? nullptr : &i->second;
}

storage::result<topic_descriptor> local_metadata_store::create(topic_descriptor topic) {
  topic.id = next_topic_id_++;
  auto it = topics_.insert_or_assign(topic.name, topic).first;  // caller checked it is new
  const bool was_dirty = dirty_;
  if (auto st = persist(); !st) {
    topics_.erase(it);
    dirty_ = was_dirty;  // memory is back to what it was
    return st;
  }
  return topic;
}

storage::status local_metadata_store::put(const topic_descriptor& topic) {
  std::optional<topic_descriptor> before;
  if (auto i = topics_.find(topic.name); i != topics_.end())
    before = i->second;
  topics_.insert_or_assign(topic.name, topic);
  const bool was_dirty = dirty_;
  if (auto st = persist(); !st) {
    if (before)
      topics_.insert_or_assign(topic.name, *before);
    else
      topics_.erase(topic.name);
    dirty_ = was_dirty;
    return st;
  }
  return storage::status::ok();
}

storage::status local_metadata_store::remove(const std::string& name) {
  auto node = topics_.extract(name);
  if (node.empty())
    return storage::status::ok();
  const bool was_dirty = dirty_;
  if (auto st = persist(); !st) {
    topics_.insert(std::move(node));
    dirty_ = was_dirty;
    return st;
  }
  return storage::status::ok();
}

storage::status local_metadata_store::forget(const std::string& name) {
  if (topics_.erase(name) == 0 && !dirty_)
    return storage::status::ok();
  return persist();
}

storage::status local_metadata_store::flush() {
  return dirty_ ? persist() : storage::status::ok();
}

storage::status local_metadata_store::persist() {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<schema::LocalMetadata>();
  root.setFormatVersion(format_version);
  root.setNodeId(node_id_);
  root.setNextTopicId(next_topic_id_);
  auto list = root.initTopics(static_cast<unsigned>(topics_.size()));
  unsigned i = 0;
  for (const auto& [name, d] : topics_) {
    auto t = list[i++];
    t.setName(d.name);
    t.setId(d.id);
    t.setPartitionCount(d.partition_count);
    t.setReplicationFactor(d.replication_factor);
    write_topic_config(d.config, t.initConfig());
    if (!d.owner.empty())
      t.setOwner(d.owner);
  }
  auto bytes = wire::to_bytes(builder);
  auto written = storage::write_file_atomically(file_, frame(bytes));
  dirty_ = !written;
  return written;
}

} // namespace herald::cluster
