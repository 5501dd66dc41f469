# Finds Herald's Debian-packaged dependencies and wraps the ones that ship no
# CMake config (CAF 0.17.6, ISA-L, xxHash, LZ4, Zstandard) as imported targets.

find_package(Threads REQUIRED)
find_package(CapnProto REQUIRED)
find_package(spdlog REQUIRED)
find_package(doctest REQUIRED)
find_package(CLI11 REQUIRED)
# OpenSSL 3 (libssl-dev): SCRAM's PBKDF2/HMAC/SHA-256 and TLS.
find_package(OpenSSL 3 REQUIRED)

function(herald_import_library target header library)
  find_path(${target}_INCLUDE_DIR ${header} REQUIRED)
  find_library(${target}_LIBRARY ${library} REQUIRED)
  add_library(${target} UNKNOWN IMPORTED)
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION ${${target}_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${${target}_INCLUDE_DIR})
endfunction()

herald_import_library(caf_core caf/all.hpp caf_core)
herald_import_library(caf_io caf/io/all.hpp caf_io)
set_target_properties(caf_io PROPERTIES INTERFACE_LINK_LIBRARIES "caf_core;Threads::Threads")
set_property(TARGET caf_core PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads)
# CAF's BASP over TLS (the cluster listener's mutual TLS, actors/cluster_tls.hpp).
herald_import_library(caf_openssl caf/openssl/all.hpp caf_openssl)
set_target_properties(caf_openssl PROPERTIES INTERFACE_LINK_LIBRARIES "caf_io;OpenSSL::SSL;OpenSSL::Crypto")
herald_import_library(isal isa-l/crc.h isal)
herald_import_library(xxhash xxhash.h xxhash)
herald_import_library(lz4 lz4.h lz4)
herald_import_library(zstd zstd.h zstd)
# ZooKeeper C client, multi-threaded flavour: its synchronous API is behind
# THREADED, so every user gets the definition.
herald_import_library(zookeeper_mt zookeeper/zookeeper.h zookeeper_mt)
set_target_properties(zookeeper_mt PROPERTIES
  INTERFACE_COMPILE_DEFINITIONS THREADED
  INTERFACE_LINK_LIBRARIES Threads::Threads)
