@0xed9ae7e29c9bd502;
# Cluster metadata as a single node keeps it in its data directory when no
# ZooKeeper is given: `<data-dir>/metadata.bin`, one flat Cap'n Proto message
# of type LocalMetadata, replaced atomically (write temp, fsync, rename,
# fsync directory) on every change.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("herald::schema");

using Client = import "client.capnp";

struct TopicDescriptor {
  name @0 :Text;
  # Unique per creation, so a topic deleted and created again with the same
  # name never mixes with leftovers of the old one.
  id @1 :UInt64;
  partitionCount @2 :UInt32;
  replicationFactor @3 :UInt16;
  config @4 :Client.TopicConfig;
  # The principal that created it ("User:alice"), charged for it by the
  # per-principal partition and disk limits; empty (also in files written
  # before the field existed): no owner, counted for nobody.
  owner @5 :Text;
}

struct LocalMetadata {
  formatVersion @0 :UInt32;
  nodeId @1 :Int32;
  nextTopicId @2 :UInt64;
  topics @3 :List(TopicDescriptor);
}
