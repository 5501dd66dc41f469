// Starts a zookeeper_server, writes java's pid and the server's temp dir
// (which the test removes) to OUT_FILE and waits to be
// killed: the fixture test SIGKILLs it (no destructor runs) and checks that
// java goes too. Usage: zk_server_holder OUT_FILE

#include "tests/support/zookeeper_server.hpp"

#include <unistd.h>

#include <fstream>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: zk_server_holder OUT_FILE\n";
    return 2;
  }
  herald::test::zookeeper_server server;
  server.start();
  {
    std::ofstream out{argv[1]};
    out << server.pid() << ' ' << server.dir().string() << std::endl;
  }
  for (;;)
    ::pause();
}
