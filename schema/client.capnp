@0xa04f0efabf7e1c30;
# The client protocol: requests a client sends to a broker's session actor and
# the responses it gets back. Each request and response travels as one
# Cap'n Proto message (flat serialization) inside a CAF message
# (`request_atom`, std::vector<char>) -> std::vector<char>; CAF matches
# responses to requests, so there is no correlation id here.
#
# Every response carries an Error; code `none` means success. Per-partition
# results carry their own Error as well.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("herald::schema");

enum ErrorCode {
  none @0;
  unknownTopic @1;           # the topic does not exist
  unknownPartition @2;       # the topic exists but has no such partition
  recordTooLarge @3;         # batch exceeds the topic's maxBatchBytes
  invalidRequest @4;         # malformed or inconsistent request
  corruptBatch @5;           # batch failed header or CRC32C validation
  topicAlreadyExists @6;
  invalidTopic @7;           # bad topic name or configuration
  partitionUnavailable @8;   # replica restarting or offline; retriable
  offsetOutOfRange @9;       # fetch offset below logStart, or past the log end of a leader
                             # that has committed in its term (past a replica's high
                             # watermark otherwise: partitionUnavailable, retriable)
  storageError @10;          # I/O error or disk full; nothing was appended
  timeout @11;               # the broker could not finish in time
  throttled @12;             # retriable: too many requests in flight on the connection
                             # (--max-inflight-requests), or, in a goodbye, a connection refused
                             # over --max-connections(-per-ip) or ended for holding the full
                             # broker-wide byte budget without progress; the message says which
  internal @13;              # a bug: reported, never silent
  notLeader @14;             # this replica does not lead the partition; retriable
                             # at Error.leaderId (-1: not known yet, e.g. an election)
  diskFull @15;              # free space on the broker's data disk is below its reserve
                             # (--disk-reserve-bytes): creates and produces are refused until
                             # space is freed; reads, deletes and retention keep working
  partitionDamaged @16;      # this replica's data is corrupt in a way no crash explains (kept
                             # for repair, <partition dir>/damaged says why): it serves nothing and
                             # does not vote until repaired; other replicas may serve
  clusterUnavailable @17;    # ZooKeeper is unreachable: topic creates, deletes and other metadata
                             # changes wait (produce and fetch keep working); retriable
  authenticationFailed @18;  # wrong password, unknown user, bad certificate, SASL out of order
  authorizationFailed @19;   # the principal may not do this (the message names principal,
                             # operation and resource)
  unsupportedVersion @20;    # client and broker share no version of the framed protocol
  quotaExceeded @21;         # a create or alter would take the principal that owns the topic past
                             # its partition or disk limit (--quota PRINCIPAL=partitions:N,disk:B,
                             # --quota-partitions, --quota-disk-bytes; docs/security.md "Quotas").
                             # The message names principal, limit, current use and the request.
                             # Not retriable: delete topics, or ask for a higher limit
}

struct Error {
  code @0 :ErrorCode;
  message @1 :Text;
  leaderId @2 :Int32 = -1;   # with notLeader: the node that may lead (see brokers in metadata)
}

enum Acks {
  none @0;     # fire and forget: the broker sends no response
  leader @1;   # the leader has appended the batch
  all @2;      # a majority has it durably (Raft-committed); fsynced on one node
}

enum FsyncPolicy {
  always @0;   # acknowledgements wait for an fsync that covers them
  interval @1; # fsync every fsyncIntervalMs
  never @2;    # leave it to the OS
}

struct TopicConfig {
  # Zero means "broker default" in every field.
  segmentBytes @0 :UInt64;
  maxBatchBytes @1 :UInt32;
  fsyncPolicy @2 :FsyncPolicy;
  fsyncIntervalMs @3 :UInt32;
  retentionMs @4 :Int64;
  retentionBytes @5 :Int64;
  cleanupPolicy @6 :CleanupPolicy;
  tombstoneRetentionMs @7 :Int64;  # compact: how long a key's latest tombstone stays
  minCompactionLagMs @8 :Int64;    # compact: records younger than this keep their older values
}

enum CleanupPolicy {
  brokerDefault @0;
  delete @1;    # whole segments go by retention; expired records are reclaimed once
  compact @2;   # also keep only each key's latest record (tombstones go after a delay)
}

struct ProduceRequest {
  topic @0 :Text;
  partition @1 :UInt32;
  acks @2 :Acks;
  timeoutMs @3 :UInt32;
  batch @4 :Data;           # one record batch, header included
}

struct ProduceResponse {
  baseOffset @0 :Int64;     # offset of the batch's first record
  lastOffset @1 :Int64;
  highWatermark @2 :Int64;
}

struct FetchRequest {
  topic @0 :Text;
  partition @1 :UInt32;
  offset @2 :Int64;         # first offset wanted
  maxBytes @3 :UInt32;      # soft limit: at least one whole batch is returned
  maxWaitMs @4 :UInt32;     # wait this long for data when none is available
}

struct FetchResponse {
  highWatermark @0 :Int64;  # consumers never see records at or past this
  logStartOffset @1 :Int64;
  records @2 :Data;         # zero or more whole batches, in offset order; the
                            # first may start before `offset`
}

struct ListOffsetsRequest {
  topic @0 :Text;
  partition @1 :UInt32;
  union {
    earliest @2 :Void;
    latest @3 :Void;        # the high watermark
    timestamp @4 :Int64;    # first offset whose batch max timestamp >= this
  }
}

struct ListOffsetsResponse {
  offset @0 :Int64;         # -1 when no record matches a timestamp query
}

struct PartitionInfo {
  id @0 :UInt32;
  leader @1 :Int32;         # node id, -1 when offline
  replicas @2 :List(Int32);
  logStartOffset @3 :Int64;
  highWatermark @4 :Int64;
  error @5 :Error;
  followers @6 :List(FollowerInfo);  # filled by the partition's leader only (its Raft progress);
                                     # empty when the answering broker does not lead it
  epoch @7 :UInt64;         # ZooKeeper mode: the replica set's epoch (bumped by every change)
}

# The leader's view of one other member of a partition's Raft group
# (describeTopic, answered by the leader). Offsets count every record the
# log holds, Raft's control batches (configuration, a new leader's no-op)
# included: one offset each.
struct FollowerInfo {
  nodeId @0 :Int32;
  matchOffset @1 :Int64;    # offset after the last record the follower is known to hold
                            # (Raft match index mapped to offsets); when the match lies before
                            # the leader's log start (it needs a snapshot): the log start
  lag @2 :Int64;            # records: the leader's log end offset - matchOffset (uncommitted
                            # records included; with a match before the log start, a lower bound)
  matchIndex @3 :UInt64;    # the same in Raft entries (one entry = one batch)
  behindMs @4 :Int64;       # since a reply from it last showed its log matching the leader's
                            # last entry (in this leadership; heartbeats keep a live, idle one
                            # at 0): grows for a dead, cut-off or slow follower; -1: not yet
  learner @5 :Bool;         # a non-voting member catching up (membership changes)
  state @6 :FollowerState;
  connected @7 :Bool = true;  # false: the leader's broker lost its connection to the follower's
}

enum FollowerState {
  probe @0;       # finding where its log matches the leader's (after an election, a rejection, a restart)
  replicate @1;   # in step: entries are pipelined to it
  snapshot @2;    # being sent a snapshot (it needs records the leader no longer has)
}

struct TopicInfo {
  name @0 :Text;
  partitionCount @1 :UInt32;
  replicationFactor @2 :UInt16;
  config @3 :TopicConfig;
  partitions @4 :List(PartitionInfo);   # filled by describeTopic only
  owner @5 :Text;           # the principal that created it ("User:alice"); empty: none recorded
                            # (created before owners were, or by a broker that does not know them)
}

struct BrokerInfo {
  nodeId @0 :Int32;
  host @1 :Text;
  port @2 :UInt16;
  rack @3 :Text;            # ZooKeeper mode: the broker's --rack (empty: none)
  alive @4 :Bool = true;    # ZooKeeper mode: registered now (false: a replica holder that is gone)
}

struct MetadataRequest {
  topics @0 :List(Text);    # empty: all topics
}

struct MetadataResponse {
  brokers @0 :List(BrokerInfo);
  topics @1 :List(TopicInfo);
  controllerId @2 :Int32 = -1;  # ZooKeeper mode: the elected controller; -1: none known (or no ZooKeeper)
}

struct CreateTopicRequest {
  name @0 :Text;
  partitions @1 :UInt32;
  replicationFactor @2 :UInt16;
  config @3 :TopicConfig;
  # Set only by a broker that passes a create on to its static-cluster peers
  # (the principal that created the topic there). A broker ignores it from a
  # client: a topic's owner is the principal of the connection that creates it.
  owner @4 :Text;
}

struct DeleteTopicRequest {
  name @0 :Text;
}

struct DescribeTopicRequest {
  name @0 :Text;
}

# Brings an offline partition replica back now instead of at its next
# back-off retry (and resets the back-off). Answered with `empty`: error none
# when the replica is (again) running, unknownTopic/unknownPartition otherwise.
struct RestartPartitionRequest {
  topic @0 :Text;
  partition @1 :UInt32;
}

# Adds partitions to a topic (cluster on ZooKeeper only): the new ones are
# placed on the live brokers; existing partitions and their data stay.
struct AlterTopicRequest {
  name @0 :Text;
  partitions @1 :UInt32;   # the new total, not fewer than now
}

# Moves one partition's replicas by hand (cluster on ZooKeeper only): the
# partition's Raft leader changes the group one membership step at a time.
# Answered once the new assignment is recorded, not once it has settled.
struct ReassignPartitionRequest {
  topic @0 :Text;
  partition @1 :UInt32;
  replicas @2 :List(Int32);  # live broker ids, as many as the replication factor; first = preferred leader
}

# Authorization (docs/security.md, security/acl.hpp). An ACL: `permission`
# for `principal` ("User:<name>" or "User:*") to do `operation` to resources
# of `resourceType` whose name `pattern` covers (literal, "prefix*" or "*";
# the cluster resource is "cluster").
enum AclPermission {
  allow @0;
  deny @1;
}

enum AclOperation {
  create @0;
  delete @1;
  produce @2;
  consume @3;
  describe @4;
  alter @5;
  all @6;
}

enum ResourceType {
  topic @0;
  group @1;
  cluster @2;
}

struct Acl {
  permission @0 :AclPermission;
  principal @1 :Text;
  operation @2 :AclOperation;
  resourceType @3 :ResourceType;
  pattern @4 :Text;
}

# Adds and removes ACLs in one change (needs alter on the cluster once
# authorization is on). Every entry is checked first: one bad entry refuses
# the whole request (invalidRequest) and nothing changes. Adding one that
# exists, or removing one that does not, is no error (counted in the response).
struct AlterAclsRequest {
  add @0 :List(Acl);
  remove @1 :List(Acl);
}

struct AlterAclsResponse {
  added @0 :UInt32;     # entries that were not there before
  removed @1 :UInt32;   # entries that were there
}

# Every ACL (needs describe on the cluster once authorization is on);
# `principal` non-empty: only that principal's (and User:*'s).
struct DescribeAclsRequest {
  principal @0 :Text;
}

struct DescribeAclsResponse {
  acls @0 :List(Acl);
  enforcing @1 :Bool;          # whether this broker checks ACLs now
  superUsers @2 :List(Text);   # this broker's --super-users
}

# SCRAM users. The credential is computed by the client from the password
# (security/scram.hpp make_credential, its one-line text form): the password
# never travels. Needs alter on the cluster once authorization is on.
struct UserCredential {
  name @0 :Text;
  scramSha256 @1 :Text;
}

struct AlterUsersRequest {
  upsert @0 :List(UserCredential);   # added, or the credential replaced
  remove @1 :List(Text);             # user names
}

struct AlterUsersResponse {
  upserted @0 :UInt32;
  removed @1 :UInt32;   # names that existed
}

# User names only, never credentials (needs describe on the cluster).
struct DescribeUsersRequest {}

struct DescribeUsersResponse {
  names @0 :List(Text);
}

struct Request {
  union {
    produce @0 :ProduceRequest;
    fetch @1 :FetchRequest;
    listOffsets @2 :ListOffsetsRequest;
    metadata @3 :MetadataRequest;
    createTopic @4 :CreateTopicRequest;
    deleteTopic @5 :DeleteTopicRequest;
    describeTopic @6 :DescribeTopicRequest;
    restartPartition @7 :RestartPartitionRequest;
    alterTopic @8 :AlterTopicRequest;
    reassignPartition @9 :ReassignPartitionRequest;
    alterAcls @10 :AlterAclsRequest;
    describeAcls @11 :DescribeAclsRequest;
    alterUsers @12 :AlterUsersRequest;
    describeUsers @13 :DescribeUsersRequest;
  }
}

struct Response {
  error @0 :Error;
  union {
    empty @1 :Void;         # error responses, createTopic and deleteTopic
    produce @2 :ProduceResponse;
    fetch @3 :FetchResponse;
    listOffsets @4 :ListOffsetsResponse;
    metadata @5 :MetadataResponse;
    describeTopic @6 :TopicInfo;
    alterAcls @7 :AlterAclsResponse;
    describeAcls @8 :DescribeAclsResponse;
    alterUsers @9 :AlterUsersResponse;
    describeUsers @10 :DescribeUsersResponse;
  }
}
