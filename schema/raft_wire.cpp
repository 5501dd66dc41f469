#include "schema/raft_wire.hpp"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <memory>
#include <utility>
#include <variant>

#include <capnp/message.h>
#include <kj/exception.h>

#include "schema/raft.capnp.h"
#include "schema/wire.hpp"

namespace herald::wire {

namespace {

using namespace herald::raft;
using E = schema::RaftEnvelope;

template <class... F>
struct overload : F... {
  using F::operator()...;
};
template <class... F>
overload(F...) -> overload<F...>;

constexpr std::size_t max_referenced_payloads = 400;

capnp::Data::Reader as_data(const bytes& b) {
  return {reinterpret_cast<const kj::byte*>(b.data()), b.size()};
}

// Words to ask for up front, so a large AppendEntries is built in one segment
// instead of a chain of growing ones.
unsigned first_segment_words(const raft::message& m) {
  std::uint64_t bytes_needed = 1024;
  if (auto* a = std::get_if<append_entries>(&m.body))
    for (const entry& e : a->entries)
      bytes_needed += 64 + (a->entries.size() < max_referenced_payloads ? 0 : e.payload_size());
  if (auto* s = std::get_if<install_snapshot>(&m.body))
    bytes_needed += s->data.size() + 8 * (s->meta.config.voters.size() + s->meta.config.learners.size());
  return static_cast<unsigned>(std::min<std::uint64_t>(bytes_needed / 8, 1u << 28));
}

void put_ids(capnp::List<std::uint64_t>::Builder out, const std::vector<node_id>& ids) {
  for (unsigned i = 0; i < ids.size(); ++i) out.set(i, ids[i]);
}

void put_config(schema::Configuration::Builder out, const configuration& c) {
  put_ids(out.initVoters(static_cast<unsigned>(c.voters.size())), c.voters);
  put_ids(out.initLearners(static_cast<unsigned>(c.learners.size())), c.learners);
}

void put_body(E::Builder out, const message_body& body) {
  std::visit(overload{
                 [&](const request_vote& v) {
                   auto b = out.initRequestVote();
                   b.setLastLogIndex(v.last_log_index);
                   b.setLastLogTerm(v.last_log_term);
                   b.setPreVote(v.pre_vote);
                   b.setLeadershipTransfer(v.leadership_transfer);
                 },
                 [&](const request_vote_response& v) {
                   auto b = out.initRequestVoteResponse();
                   b.setVoteGranted(v.vote_granted);
                   b.setPreVote(v.pre_vote);
                 },
                 [&](const append_entries& v) {
                   auto b = out.initAppendEntries();
                   b.setPrevLogIndex(v.prev_log_index);
                   b.setPrevLogTerm(v.prev_log_term);
                   b.setLeaderCommit(v.leader_commit);
                   b.setQuiesce(v.quiesce);
                   auto list = b.initEntries(static_cast<unsigned>(v.entries.size()));
                   // Each referenced payload becomes a segment of its own, and
                   // readers refuse messages of 512 segments or more.
                   const bool reference = v.entries.size() < max_referenced_payloads;
                   for (unsigned i = 0; i < v.entries.size(); ++i) {
                     const entry& e = v.entries[i];
                     auto w = list[i];
                     w.setIndex(e.index);
                     w.setTerm(e.term);
                     w.setKind(e.kind == entry_kind::configuration ? schema::EntryKind::CONFIGURATION
                                                                   : schema::EntryKind::NORMAL);
                     // Referenced, not copied: the payload is copied once, when
                     // the message is written out.
                     // Cap'n Proto makes external data a segment of whole words:
                     // only 8-byte multiples at aligned addresses (every record
                     // batch) may be referenced, or the writer reads past them.
                     if (e.payload_size() > 0 && reference && e.payload_size() % 8 == 0 &&
                         reinterpret_cast<std::uintptr_t>(e.data->data()) % 8 == 0)
                       w.adoptData(capnp::Orphanage::getForMessageContaining(w).referenceExternalData(as_data(*e.data)));
                     else if (e.payload_size() > 0)
                       w.setData(as_data(*e.data));
                   }
                 },
                 [&](const append_entries_response& v) {
                   auto b = out.initAppendEntriesResponse();
                   b.setSuccess(v.success);
                   b.setMatchIndex(v.match_index);
                   b.setRejectedIndex(v.rejected_index);
                   b.setHintIndex(v.hint_index);
                   b.setHintTerm(v.hint_term);
                   b.setLastLogIndex(v.last_log_index);
                 },
                 [&](const install_snapshot& v) {
                   auto b = out.initInstallSnapshot();
                   b.setLastIncludedIndex(v.meta.index);
                   b.setLastIncludedTerm(v.meta.term);
                   put_config(b.initLastConfig(), v.meta.config);
                   b.setOffset(v.offset);
                   if (!v.data.empty()) b.setData(as_data(v.data));
                   b.setDone(v.done);
                 },
                 [&](const install_snapshot_response& v) {
                   auto b = out.initInstallSnapshotResponse();
                   b.setSnapshotIndex(v.snapshot_index);
                   b.setDone(v.done);
                   b.setRejected(v.rejected);
                   b.setNextOffset(v.next_offset);
                 },
                 [&](const timeout_now& v) {
                   out.setTimeoutNow();
                   out.setTimeoutNowLastIndex(v.last_index);
                 },
             },
             body);
}

// Decoding: each step returns false and sets `why` on input the core must not see.

bool fail(std::string& why, std::string reason) {
  why = std::move(reason);
  return false;
}

bool get_ids(capnp::List<std::uint64_t>::Reader in, std::vector<node_id>& out, const char* what,
             std::string& why) {
  out.reserve(in.size());
  for (std::uint64_t id : in) {
    if (id == no_node) return fail(why, std::string(what) + " contain node id 0");
    if (!out.empty() && id <= out.back()) return fail(why, std::string(what) + " are not sorted and unique");
    out.push_back(id);
  }
  return true;
}

bool get_config(schema::Configuration::Reader in, configuration& out, std::string& why) {
  if (!get_ids(in.getVoters(), out.voters, "voters", why) ||
      !get_ids(in.getLearners(), out.learners, "learners", why))
    return false;
  for (node_id id : out.learners)
    if (out.is_voter(id)) return fail(why, "node " + std::to_string(id) + " is both voter and learner");
  return true;
}

bool get_entries(capnp::List<schema::Entry>::Reader in, std::size_t message_words, std::vector<entry>& out,
                 std::string& why) {
  // A list of zero-sized structs claims any length without taking space; each
  // real entry takes at least a word, so this bounds memory by the input size.
  if (in.size() > message_words) return fail(why, "more entries than the message has words");
  out.reserve(in.size());
  for (auto w : in) {
    entry e{w.getIndex(), w.getTerm(), entry_kind::normal, nullptr};
    switch (w.getKind()) {
      case schema::EntryKind::NORMAL: e.kind = entry_kind::normal; break;
      case schema::EntryKind::CONFIGURATION: e.kind = entry_kind::configuration; break;
      default:
        return fail(why, "entry " + std::to_string(e.index) + " has unknown kind " +
                             std::to_string(static_cast<unsigned>(w.getKind())));
    }
    auto data = w.getData();
    // Through char pointers: from kj::byte iterators the copy is element by
    // element (perf: a fifth of a follower's CPU).
    const auto* first = reinterpret_cast<const char*>(data.begin());
    if (data.size() > 0) e.data = std::make_shared<const bytes>(first, first + data.size());
    out.push_back(std::move(e));
  }
  return true;
}

bool get_body(E::Reader in, std::size_t message_words, message_body& out, std::string& why) {
  switch (in.which()) {
    case E::REQUEST_VOTE: {
      auto r = in.getRequestVote();
      out = request_vote{r.getLastLogIndex(), r.getLastLogTerm(), r.getPreVote(), r.getLeadershipTransfer()};
      return true;
    }
    case E::REQUEST_VOTE_RESPONSE: {
      auto r = in.getRequestVoteResponse();
      out = request_vote_response{r.getVoteGranted(), r.getPreVote()};
      return true;
    }
    case E::APPEND_ENTRIES: {
      auto r = in.getAppendEntries();
      append_entries a{r.getPrevLogIndex(), r.getPrevLogTerm(), {}, r.getLeaderCommit(), r.getQuiesce()};
      if (!get_entries(r.getEntries(), message_words, a.entries, why)) return false;
      out = std::move(a);
      return true;
    }
    case E::APPEND_ENTRIES_RESPONSE: {
      auto r = in.getAppendEntriesResponse();
      out = append_entries_response{r.getSuccess(),  r.getMatchIndex(), r.getRejectedIndex(),
                                    r.getHintIndex(), r.getHintTerm(),  r.getLastLogIndex()};
      return true;
    }
    case E::INSTALL_SNAPSHOT: {
      auto r = in.getInstallSnapshot();
      install_snapshot s;
      s.meta.index = r.getLastIncludedIndex();
      s.meta.term = r.getLastIncludedTerm();
      if (!get_config(r.getLastConfig(), s.meta.config, why)) return fail(why, "snapshot config: " + why);
      s.offset = r.getOffset();
      auto data = r.getData();
      s.data.assign(reinterpret_cast<const char*>(data.begin()), reinterpret_cast<const char*>(data.end()));
      s.done = r.getDone();
      out = std::move(s);
      return true;
    }
    case E::INSTALL_SNAPSHOT_RESPONSE: {
      auto r = in.getInstallSnapshotResponse();
      out = install_snapshot_response{r.getSnapshotIndex(), r.getDone(), r.getRejected(), r.getNextOffset()};
      return true;
    }
    case E::TIMEOUT_NOW:
      out = timeout_now{in.getTimeoutNowLastIndex()};
      return true;
  }
  return fail(why, "unknown message kind " + std::to_string(static_cast<unsigned>(in.which())));
}

}  // namespace

std::vector<char> encode_raft(const raft_envelope& e) {
  capnp::MallocMessageBuilder builder(first_segment_words(e.message));
  auto root = builder.initRoot<E>();
  root.setTopic(e.topic);
  root.setPartition(e.partition);
  root.setFrom(e.message.from);
  root.setTo(e.message.to);
  root.setTerm(e.message.term);
  put_body(root, e.message.body);
  return to_bytes(builder);
}

std::optional<raft_envelope> decode_raft(std::span<const char> bytes, std::string* why) {
  std::string reason;
  try {
    message_reader reader(bytes);
    auto root = reader.root<E>();
    raft_envelope e;
    auto topic = root.getTopic();
    e.topic.assign(topic.begin(), topic.size());
    e.partition = root.getPartition();
    e.message.from = root.getFrom();
    e.message.to = root.getTo();
    e.message.term = root.getTerm();
    if (get_body(root, bytes.size() / sizeof(capnp::word), e.message.body, reason)) return e;
  } catch (const kj::Exception& ex) {
    reason = std::string("malformed message: ") + ex.getDescription().cStr();
  } catch (const std::exception& ex) {
    reason = std::string("cannot decode: ") + ex.what();
  } catch (...) {
    reason = "cannot decode: unknown exception";
  }
  if (why) *why = std::move(reason);
  return std::nullopt;
}

}  // namespace herald::wire
