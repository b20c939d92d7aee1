// libtorrent's own C++ decoder (lt::bdecode) timed on a file, for the comparison table.
// Build: g++ -O2 -std=c++17 lt_bdecode.cpp -ltorrent-rasterbar
#include <libtorrent/bdecode.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>
int main(int argc, char** argv) {
    if (argc != 3) return 2;
    std::ifstream f(argv[1], std::ios::binary);
    std::vector<char> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    int iterations = std::atoi(argv[2]);
    lt::bdecode_node node;
    lt::error_code ec;
    int pos = 0;
    long sink = 0;
    for (int i = 0; i < iterations / 10 + 1; ++i) node = lt::bdecode(buf, ec, &pos, 100, 4000000);
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) {
        node = lt::bdecode(buf, ec, &pos, 100, 4000000);
        sink += node.type();
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iterations;
    if (ec) { std::fprintf(stderr, "bdecode error: %s\n", ec.message().c_str()); return 1; }
    std::printf("lt-cpp %.9f %.1f sink %ld\n", s, buf.size() / s / 1e6, sink);
    return 0;
}
