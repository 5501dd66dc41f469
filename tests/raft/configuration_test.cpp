// Configurations: the single-server changes and the encoding.

#include <doctest/doctest.h>

#include "raft/configuration.hpp"

using namespace herald::raft;

TEST_CASE("single-server changes move one node at a time") {
  configuration c{{1, 2, 3}, {}};
  auto a = apply_change(c, {change_kind::add_learner, 4});
  REQUIRE(a);
  CHECK(a->learners == std::vector<node_id>{4});
  auto p = apply_change(*a, {change_kind::promote, 4});
  REQUIRE(p);
  CHECK(p->voters == std::vector<node_id>{1, 2, 3, 4});
  CHECK(p->learners.empty());
  auto d = apply_change(*p, {change_kind::demote, 2});
  REQUIRE(d);
  CHECK(d->voters == std::vector<node_id>{1, 3, 4});
  CHECK(d->learners == std::vector<node_id>{2});
  auto r = apply_change(*d, {change_kind::remove, 2});
  REQUIRE(r);
  CHECK(r->learners.empty());
  CHECK(c.quorum() == 2);
  CHECK(p->quorum() == 3);
}

TEST_CASE("changes that make no sense are refused with a reason") {
  configuration c{{1}, {2}};
  std::string why;
  CHECK(!apply_change(c, {change_kind::remove, 1}, &why));
  CHECK(why == "cannot remove the last voter");
  CHECK(!apply_change(c, {change_kind::add_learner, 2}));
  CHECK(!apply_change(c, {change_kind::promote, 1}));
  CHECK(!apply_change(c, {change_kind::demote, 2}));
  CHECK(!apply_change(c, {change_kind::add_voter, 0}));
}

TEST_CASE("configurations round-trip through their encoding") {
  configuration c{{1, 5, 9}, {2, 300000000000ull}};
  auto back = decode_configuration(encode_configuration(c));
  REQUIRE(back);
  CHECK(*back == c);
  CHECK(decode_configuration(encode_configuration(configuration{})) == configuration{});
}

TEST_CASE("malformed configuration encodings are rejected") {
  bytes good = encode_configuration(configuration{{1, 2}, {3}});
  for (std::size_t n = 0; n < good.size(); ++n) CHECK(!decode_configuration(bytes(good.begin(), good.begin() + n)));
  bytes trailing = good;
  trailing.push_back(0);
  CHECK(!decode_configuration(trailing));
  CHECK(!decode_configuration(encode_configuration(configuration{{2, 1}, {}})));  // unsorted
  CHECK(!decode_configuration(encode_configuration(configuration{{1, 2}, {2}})));  // overlapping
  CHECK(!decode_configuration(encode_configuration(configuration{{0}, {}})));      // node 0
  bytes huge(4, '\xff');
  CHECK(!decode_configuration(huge));
}
