# Quotas and connection caps (issue 11 item 5), on a fake clock. Included from
# tests/CMakeLists.txt (a file of its own: that one is edited by everyone).
add_executable(quota_tests security/quota_test.cpp security/quota_connection_limits_test.cpp
  security/principal_limits_test.cpp)
target_link_libraries(quota_tests PRIVATE herald_security herald_test_main)
doctest_discover_tests(quota_tests)

# What a connection charges: needs the schema (and lives in herald_actors).
add_executable(quota_connection_tests security/quota_connection_test.cpp)
target_link_libraries(quota_connection_tests PRIVATE herald_actors herald_test_main)
doctest_discover_tests(quota_connection_tests)

# Quotas and connection caps in a real heraldd, against a raw-socket client.
add_executable(quota_system_tests security/quota_system_test.cpp)
target_link_libraries(quota_system_tests PRIVATE herald_test_frame_client herald_test_support herald_test_main)
doctest_discover_tests(quota_system_tests PROPERTIES TIMEOUT 180 LABELS integration ENVIRONMENT "${HERALD_LSAN_MP_ENV}")

# The same through the client library, which honours throttle_ms.
add_executable(quota_client_tests security/quota_client_test.cpp)
target_link_libraries(quota_client_tests PRIVATE herald_client herald_test_frame_client herald_test_support herald_test_main)
doctest_discover_tests(quota_client_tests PROPERTIES TIMEOUT 180 LABELS integration ENVIRONMENT "${HERALD_LSAN_MP_ENV}")

# The client's liveness watch during a quota pause.
add_executable(quota_client_liveness_tests security/quota_client_liveness_test.cpp)
target_link_libraries(quota_client_liveness_tests PRIVATE herald_client herald_test_main)
doctest_discover_tests(quota_client_liveness_tests)

# Partition and disk limits per principal in a real heraldd with SCRAM users,
# through the herald CLI.
add_executable(principal_limits_system_tests security/principal_limits_system_test.cpp)
target_link_libraries(principal_limits_system_tests PRIVATE herald_security herald_test_support herald_test_main)
doctest_discover_tests(principal_limits_system_tests PROPERTIES TIMEOUT 180 LABELS integration ENVIRONMENT "${HERALD_LSAN_MP_ENV}")
