@0x886e0130bbcd198d;
# The records inside a record batch.
#
# A record batch on the wire and on disk is a fixed 72-byte binary header
# (storage/batch_header.hpp documents it byte by byte) followed by one
# Cap'n Proto message of type RecordBatchPayload in the standard flat
# serialization (segment table + segments, always a multiple of 8 bytes), or
# that message compressed with lz4 or zstd when the header's codec bits say
# so (storage/compression.hpp documents that form).
# The producer builds these bytes once; the broker stamps the base offset and
# term into the header (both outside the CRC) and stores the bytes as they are;
# consumers read the same bytes. Nothing re-encodes records on the hot path.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("herald::schema");

struct RecordHeader {
  key @0 :Text;
  value @1 :Data;
}

struct Record {
  # Offset of this record minus the batch's base offset.
  offsetDelta @0 :UInt32;
  # Timestamp (ms since the epoch) minus the batch's first timestamp.
  timestampDelta @1 :Int64;
  # A null key (not set) differs from an empty key.
  key @2 :Data;
  value @3 :Data;
  headers @4 :List(RecordHeader);
  # When the record expires, in ms since the epoch; 0: never. The cleaner
  # (storage/compaction.hpp) removes expired records; nothing else hides them.
  expiresAt @5 :Int64;
  # True for a tombstone: the record deletes its key under key compaction
  # (the cleaner removes older records of the key, and the tombstone itself
  # once it is older than the topic's tombstone retention). Its value is
  # empty; a tombstone needs a key. A set but empty value differs from a
  # tombstone, as a null key from an empty one.
  valueNull @6 :Bool;
}

struct RecordBatchPayload {
  records @0 :List(Record);
}
