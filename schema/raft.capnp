@0xdd3870bcf6ceafc9;
# The Raft protocol between brokers: the messages of the Raft core
# (raft/messages.hpp), with the names of the Raft paper (Figure 2) and
# Ongaro's thesis. Each partition is its own Raft group; one RaftEnvelope,
# one Cap'n Proto message in flat serialization, carries one Raft message for
# one group from one node to another inside a CAF message. The receiving
# broker routes it by (topic, partition) to that partition's Raft node.
#
# schema/raft_wire.hpp converts between these and the core's structs. Decoding
# validates what the core would otherwise trust: enum values, union members
# and snapshot configurations; a message that fails is dropped. Dropping is
# always safe: Raft already tolerates lost, duplicated and reordered messages.
#
# Entry payloads are record batches (record.capnp) carried as opaque Data, so
# a batch travels from the leader's log to a follower's log without being
# re-encoded.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("herald::schema");

enum EntryKind {
  normal @0;          # opaque payload for the host: a record batch, or empty
                      # for the no-op a new leader appends to commit its term
  configuration @1;   # payload is a configuration in the core's own encoding
                      # (raft/configuration.hpp), voters then learners
}

struct Entry {
  index @0 :UInt64;
  term @1 :UInt64;     # the term of the leader that created the entry
  kind @2 :EntryKind;
  data @3 :Data;       # empty (or not set) means no payload
}

# Who votes and who only replicates. Node ids are never 0 ("nobody"); both
# lists are sorted, unique and disjoint, and a decoder rejects any other.
struct Configuration {
  voters @0 :List(UInt64);
  learners @1 :List(UInt64);  # receive the log, never vote or count toward a quorum
}

# RequestVote, and the pre-vote round of thesis 9.6.
struct RequestVote {
  lastLogIndex @0 :UInt64;
  lastLogTerm @1 :UInt64;
  # "Would you vote for me at `term`?": answering changes no one's term, so
  # a partitioned node that keeps timing out cannot disrupt a healthy leader.
  preVote @2 :Bool;
  # Sent because the leader asked for it (TimeoutNow): voters grant it even
  # though they heard from a leader recently.
  leadershipTransfer @3 :Bool;
}

struct RequestVoteResponse {
  voteGranted @0 :Bool;
  preVote @1 :Bool;    # echoes the request, so a late pre-vote answer is not
                       # counted as a real vote
}

# AppendEntries. With no entries it is a heartbeat.
struct AppendEntries {
  prevLogIndex @0 :UInt64;   # index of the entry just before `entries`
  prevLogTerm @1 :UInt64;    # its term: the consistency check
  entries @2 :List(Entry);   # consecutive indexes from prevLogIndex + 1
  leaderCommit @3 :UInt64;   # the leader's commit index
  # The leader goes quiet after this heartbeat (raft/quiescence.cpp): the
  # group is idle, so a follower that accepts it stops its election timer
  # until something wakes it. False from senders older than this field.
  quiesce @4 :Bool;
}

struct AppendEntriesResponse {
  success @0 :Bool;
  # On success: the follower's log matches the leader's through this index.
  # Carried explicitly because responses arrive out of order and duplicated.
  matchIndex @1 :UInt64;
  # On rejection: the prevLogIndex that did not match, so the leader can drop
  # stale rejections.
  rejectedIndex @2 :UInt64;
  # Fast backtracking: the last index <= prevLogIndex whose term (hintTerm)
  # is <= prevLogTerm, so the leader skips a whole term per round trip.
  hintIndex @3 :UInt64;
  hintTerm @4 :UInt64;
  lastLogIndex @5 :UInt64;   # the follower's last index, for diagnostics and probing
}

# InstallSnapshot, chunked: `data` is bytes [offset, offset + size) of the
# snapshot that covers entries [1, lastIncludedIndex].
struct InstallSnapshot {
  lastIncludedIndex @0 :UInt64;
  lastIncludedTerm @1 :UInt64;
  # The configuration as of lastIncludedIndex (the thesis's lastConfig): the
  # entries that held it are gone from the follower's log once it installs.
  lastConfig @2 :Configuration;
  offset @3 :UInt64;
  data @4 :Data;
  done @5 :Bool;             # this is the last chunk
}

struct InstallSnapshotResponse {
  snapshotIndex @0 :UInt64;  # the lastIncludedIndex this answers
  # done: the follower's state now covers snapshotIndex (installed, or it
  # already had it). Otherwise nextOffset is the byte it expects next, and
  # rejected says the chunk was not at that offset (the leader rewinds).
  done @1 :Bool;
  rejected @2 :Bool;
  nextOffset @3 :UInt64;
}

struct RaftEnvelope {
  # Which Raft group: every partition replicates separately.
  topic @0 :Text;
  partition @1 :UInt32;
  # Node ids; 0 is "nobody". `to` is carried although the transport already
  # knows it: the core drops a message that is not addressed to itself, so a
  # misrouted message is harmless.
  from @2 :UInt64;
  to @3 :UInt64;
  term @4 :UInt64;           # the sender's current term, in every message
  union {
    requestVote @5 :RequestVote;
    requestVoteResponse @6 :RequestVoteResponse;
    appendEntries @7 :AppendEntries;
    appendEntriesResponse @8 :AppendEntriesResponse;
    installSnapshot @9 :InstallSnapshot;
    installSnapshotResponse @10 :InstallSnapshotResponse;
    # Leadership transfer (thesis 3.10): start an election now, skipping
    # pre-vote. The leader's last index rides in timeoutNowLastIndex.
    timeoutNow @11 :Void;
  }
  # TimeoutNow only: the leader's last log index when it sent it. While a
  # transfer is under way the leader takes no proposals, so a target whose
  # log is not exactly that long holds a stale TimeoutNow (its transfer was
  # abandoned and the leader went on) and ignores it rather than campaign
  # past a healthy leader's lease. 0 in every other message (and from
  # senders older than this field, whose TimeoutNow is then ignored).
  timeoutNowLastIndex @12 :UInt64;
}
