# Quotas and connection caps (issue 11 item 5), on a fake clock. Included from
# tests/CMakeLists.txt (a file of its own: that one is edited by everyone).
add_executable(quota_tests security/quota_test.cpp security/quota_connection_limits_test.cpp)
target_link_libraries(quota_tests PRIVATE herald_security herald_test_main)
doctest_discover_tests(quota_tests)

# What a connection charges: needs the schema (and lives in herald_actors).
add_executable(quota_connection_tests security/quota_connection_test.cpp)
target_link_libraries(quota_connection_tests PRIVATE herald_actors herald_test_main)
doctest_discover_tests(quota_connection_tests)
