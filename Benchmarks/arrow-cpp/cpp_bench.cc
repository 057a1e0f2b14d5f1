// Arrow's own C++ client (libplasma 11 from the pyarrow 11 wheel) timing sequential small-object
// operations and 64 MiB objects against one store, so that Arrow's plasma-store-server and ours can be
// compared through the client Arrow users actually run. Built and driven by compare.sh.
//
// Usage: cpp_bench SOCKET WORKLOAD COUNT
//   put-small         Create 64 B + write + Seal + Release      (ops/s)
//   put-small-inline  CreateAndSeal 64 B                        (ops/s)
//   put-batch         CreateAndSealBatch of 1000 x 64 B         (objects/s; COUNT batches)
//   get-small         Get (timeout 0) of sealed 64 B, released as its buffer goes (ops/s, 1000 objects)
//   put-large         Create 64 MiB + memcpy + Seal + Release + Delete  (GB/s)
//   get-large         Get 64 MiB + read every byte, released as its buffer goes   (GB/s)
// Prints one line: the rate. Exits 1 with a message on any error.
#include <plasma/client.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using plasma::ObjectBuffer;
using plasma::ObjectID;
using plasma::PlasmaClient;

namespace {

void Check(const char* what, const arrow::Status& status) {
  if (status.ok()) return;
  std::fprintf(stderr, "cpp_bench: %s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

ObjectID RandomID(std::mt19937_64& generator) {
  std::string binary(plasma::kUniqueIDSize, '\0');
  for (auto& byte : binary) byte = static_cast<char>(generator() & 0xff);
  return ObjectID::from_binary(binary);
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s SOCKET WORKLOAD COUNT\n", argv[0]);
    return 2;
  }
  const std::string workload = argv[2];
  const long count = std::atol(argv[3]);
  std::mt19937_64 generator(std::random_device{}());
  PlasmaClient client;
  Check("connect", client.Connect(argv[1], "", 0));
  const std::string small(64, '\7');
  const int64_t large = 64 << 20;
  double units = 0, seconds = 0;

  if (workload == "put-small") {
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < count; i++) {
      ObjectID id = RandomID(generator);
      std::shared_ptr<arrow::Buffer> buffer;
      Check("create", client.Create(id, 64, nullptr, 0, &buffer));
      std::memset(buffer->mutable_data(), 7, 64);
      Check("seal", client.Seal(id));
      Check("release", client.Release(id));
    }
    seconds = Seconds(start);
    units = count;
  } else if (workload == "put-small-inline") {
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < count; i++) Check("create-and-seal", client.CreateAndSeal(RandomID(generator), small, ""));
    seconds = Seconds(start);
    units = count;
  } else if (workload == "put-batch") {
    const std::vector<std::string> data(1000, small), metadata(1000, "");
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < count; i++) {
      std::vector<ObjectID> ids;
      for (int j = 0; j < 1000; j++) ids.push_back(RandomID(generator));
      Check("create-and-seal-batch", client.CreateAndSealBatch(ids, data, metadata));
    }
    seconds = Seconds(start);
    units = count * 1000.0;
  } else if (workload == "get-small") {
    std::vector<ObjectID> ids;
    for (int j = 0; j < 1000; j++) {
      ids.push_back(RandomID(generator));
      Check("prepare", client.CreateAndSeal(ids.back(), small, ""));
    }
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < count; i++) {
      const ObjectID& id = ids[i % ids.size()];
      std::vector<ObjectBuffer> buffers;
      Check("get", client.Get({id}, 0, &buffers));
      if (!buffers[0].data) { std::fprintf(stderr, "cpp_bench: get found nothing\n"); return 1; }
      buffers.clear();  // libplasma releases a got object when its last buffer goes
    }
    seconds = Seconds(start);
    units = count;
    Check("delete", client.Delete(ids));
  } else if (workload == "put-large") {
    std::vector<uint8_t> source(large, 3);
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < count; i++) {
      ObjectID id = RandomID(generator);
      std::shared_ptr<arrow::Buffer> buffer;
      Check("create", client.Create(id, large, nullptr, 0, &buffer));
      std::memcpy(buffer->mutable_data(), source.data(), large);
      buffer.reset();
      Check("seal", client.Seal(id));
      Check("release", client.Release(id));
      Check("delete", client.Delete(id));
    }
    seconds = Seconds(start);
    units = count * static_cast<double>(large) / 1e9;
  } else if (workload == "get-large") {
    ObjectID id = RandomID(generator);
    std::shared_ptr<arrow::Buffer> buffer;
    Check("create", client.Create(id, large, nullptr, 0, &buffer));
    std::memset(buffer->mutable_data(), 3, large);
    buffer.reset();
    Check("seal", client.Seal(id));
    Check("release", client.Release(id));
    uint64_t sum = 0;
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < count; i++) {
      std::vector<ObjectBuffer> buffers;
      Check("get", client.Get({id}, 0, &buffers));
      const auto* words = reinterpret_cast<const uint64_t*>(buffers[0].data->data());
      for (int64_t w = 0; w < large / 8; w++) sum += words[w];
      buffers.clear();  // the release
    }
    seconds = Seconds(start);
    units = count * static_cast<double>(large) / 1e9;
    if (sum == 42) std::fprintf(stderr, " ");  // keep the reads
    Check("delete", client.Delete(id));
  } else {
    std::fprintf(stderr, "cpp_bench: unknown workload %s\n", workload.c_str());
    return 2;
  }
  std::printf("%.1f\n", units / seconds);
  Check("disconnect", client.Disconnect());
  return 0;
}
