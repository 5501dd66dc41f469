// Topic deletes that work on a full disk.
//
// A delete first renames <data-dir>/topics/<name>-<id> to
// <name>-<id>.deleting: a rename needs no free space, and from then on the
// delete is durable (a node that dies here finishes it at its next start).
// Then the data goes, which frees space, and only then is the metadata
// rewritten: on a disk full to the last block that rewrite may still fail
// (the stopped replicas close their files a moment later), and is retried
// at every disk check until it fits. The marker directory stays until the
// metadata no longer names the topic, so a restart in between cannot bring
// the topic back without its data.

#include <filesystem>
#include <string>

#include <spdlog/spdlog.h>

#include "actors/node_state.hpp"

namespace herald::actors {

namespace {

constexpr std::string_view marker_suffix = ".deleting";

// "<name>-<id>.deleting" -> name and id; false for anything else.
bool parse_marker(const std::string& file, std::string& name, std::uint64_t& id) {
  if (file.size() <= marker_suffix.size() || !file.ends_with(marker_suffix))
    return false;
  auto base = file.substr(0, file.size() - marker_suffix.size());
  auto dash = base.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == base.size())
    return false;
  try {
    std::size_t used = 0;
    id = std::stoull(base.substr(dash + 1), &used);
    if (used != base.size() - dash - 1)
      return false;
  } catch (const std::exception&) {
    return false;
  }
  name = base.substr(0, dash);
  return true;
}

} // namespace

void sweep_deletes(node_ptr self) try {
  auto& st = self->state;
  const auto topics_dir = st.args.data_dir / "topics";
  std::error_code ec;
  std::vector<std::filesystem::path> markers;
  for (const auto& entry : std::filesystem::directory_iterator(topics_dir, ec)) {
    std::string name;
    std::uint64_t id = 0;
    if (!parse_marker(entry.path().filename().string(), name, id))
      continue;
    markers.push_back(entry.path());
    if (const auto* d = st.args.metadata->find(name); d != nullptr && d->id == id) {
      stop_topic(self, name);
      (void)st.args.metadata->forget(name);  // a failure leaves it dirty: retried below
    }
    // The data first: it frees the space the metadata rewrite may need.
    for (const auto& child : std::filesystem::directory_iterator(entry.path(), ec))
      std::filesystem::remove_all(child.path(), ec);
  }
  if (auto flushed = st.args.metadata->flush(); !flushed) {
    if (!st.deletes_pending)
      spdlog::warn("topic delete: cannot rewrite the metadata yet ({}); retrying every {} ms", flushed.message,
                   st.args.disk_check.count());
    st.deletes_pending = true;
    return;
  }
  bool left = false;
  for (const auto& marker : markers) {
    std::filesystem::remove_all(marker, ec);
    if (ec) {
      left = true;
      spdlog::warn("topic delete: cannot remove {} yet: {}", marker.string(), ec.message());
    }
  }
  st.deletes_pending = left;
} catch (const std::filesystem::filesystem_error& e) {
  spdlog::warn("topic delete: {}; retrying at the next disk check", e.what());
  self->state.deletes_pending = true;
}

} // namespace herald::actors
