@0x95403ca5ad54320e;
# The session messages of Herald's framed client protocol: the payloads of the
# hello, hello_reply, sasl, sasl_reply and goodbye frames (protocol/frame.hpp
# defines the frames byte by byte). Requests and responses stay
# client.capnp's Request and Response.
#
# Session: the client sends hello; the server answers hello_reply. If
# saslMechanisms is non-empty the client authenticates (sasl / sasl_reply
# rounds until done) before any request; a request before that ends the
# connection with goodbye authenticationFailed. Then any number of requests,
# several in flight, answered in any order (matched by correlation).

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("herald::schema");

using Client = import "client.capnp";

struct Hello {
  minVersion @0 :UInt16;     # the protocol versions the client speaks (today: 1..1)
  maxVersion @1 :UInt16;
  clientId @2 :Text;         # free text for logs
}

struct HelloReply {
  error @0 :Client.Error;    # unsupportedVersion: no common version (goodbye follows)
  version @1 :UInt16;        # the version chosen, within [minVersion, maxVersion]
  nodeId @2 :Int32;
  saslMechanisms @3 :List(Text);  # empty: no SASL on this listener
  maxFrameBytes @4 :UInt32;  # the length-field limit after the handshake
  principal @5 :Text;        # the principal known so far (mTLS or User:ANONYMOUS)
}

struct SaslStep {
  mechanism @0 :Text;        # e.g. SCRAM-SHA-256 (first step names it)
  payload @1 :Data;
}

struct SaslReply {
  error @0 :Client.Error;    # authenticationFailed ends the connection (goodbye follows)
  payload @1 :Data;
  done @2 :Bool;
  principal @3 :Text;        # once done
}

struct Goodbye {
  error @0 :Client.Error;    # why the server closes the connection
}
