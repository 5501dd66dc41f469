#pragma once
// Conversions between topic_config and its Cap'n Proto form (TopicConfig in
// schema/client.capnp), shared by the wire protocol and the metadata file.

#include "cluster/topic.hpp"
#include "schema/client.capnp.h"

namespace herald::cluster {

void write_topic_config(const topic_config& config, schema::TopicConfig::Builder out);

// Zero in a field means "use the default": the result is fully resolved.
topic_config read_topic_config(schema::TopicConfig::Reader in, const topic_config& defaults);

} // namespace herald::cluster
