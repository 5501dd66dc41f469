#include "client/request_route.hpp"

#include <kj/exception.h>

#include "schema/wire.hpp"

namespace herald::client {

request_route route_of(std::span<const char> request) {
  request_route r;
  try {
    wire::message_reader reader(request);
    auto req = reader.root<schema::Request>();
    switch (req.which()) {
      case schema::Request::PRODUCE: {
        auto p = req.getProduce();
        r = {true, p.getTopic().cStr(), p.getPartition(), false,
             p.getTimeoutMs() == 0 ? wire::default_produce_timeout_ms : p.getTimeoutMs()};
        break;
      }
      case schema::Request::FETCH: {
        auto f = req.getFetch();
        r = {true, f.getTopic().cStr(), f.getPartition(), false, f.getMaxWaitMs()};
        break;
      }
      case schema::Request::LIST_OFFSETS: {
        auto l = req.getListOffsets();
        r = {true, l.getTopic().cStr(), l.getPartition(), false, 0};
        break;
      }
      case schema::Request::METADATA: r.metadata = true; break;
      default: break;
    }
  } catch (const kj::Exception&) {
    r = request_route{};
  }
  return r;
}

} // namespace herald::client
