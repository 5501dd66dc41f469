#pragma once
// Topic metadata of a broker that runs without ZooKeeper, kept in its data
// directory as <data-dir>/metadata.bin (schema/metadata.capnp, LocalMetadata).
// Every change is written atomically before the call returns, so a crash
// leaves either the old or the new set of topics.
//
// Not thread-safe: owned by the node actor.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "cluster/topic.hpp"
#include "storage/status.hpp"

namespace herald::cluster {

class local_metadata_store {
public:
  // Loads the file, or starts empty if it does not exist. A file that exists
  // but does not parse is an error: the broker refuses to start rather than
  // forget topics.
  static storage::result<std::unique_ptr<local_metadata_store>> open(const std::filesystem::path& data_dir,
                                                                     std::int32_t node_id);

  const std::map<std::string, topic_descriptor>& topics() const { return topics_; }
  const topic_descriptor* find(const std::string& name) const;

  // Assigns the topic a fresh id and persists. The caller validated it.
  storage::result<topic_descriptor> create(topic_descriptor topic);
  // ZooKeeper mode: records a topic as the cluster defined it (its id
  // included), replacing one of the same name, and persists.
  storage::status put(const topic_descriptor& topic);
  storage::status remove(const std::string& name);
  // Like remove(), but the topic is gone from memory whether or not the file
  // could be rewritten (a delete whose intent is already durable elsewhere,
  // on a disk too full to rewrite it): on failure the store is dirty until a
  // flush() or a later change persists it.
  storage::status forget(const std::string& name);
  bool dirty() const { return dirty_; }
  storage::status flush();

private:
  local_metadata_store(std::filesystem::path file, std::int32_t node_id)
    : file_(std::move(file)), node_id_(node_id) {}
  storage::status persist();

  std::filesystem::path file_;
  std::int32_t node_id_;
  std::uint64_t next_topic_id_ = 1;
  std::map<std::string, topic_descriptor> topics_;
  bool dirty_ = false;  // memory holds changes the file does not
};

} // namespace herald::cluster
