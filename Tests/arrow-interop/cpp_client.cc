// An unmodified libplasma 11 (C++) client driving OUR store: built against the pyarrow 11 wheel's
// libplasma.so.1100 and headers (see run.sh), run by test_interop.py::test_cpp_client.
//
// It exercises what the Python API doesn't reach: Abort, CreateAndSealBatch, Refresh (RefreshLRU),
// SetClientOptions, plus create/seal/get/contains/list/delete/evict/subscribe. One "PASS <step>" line
// per step; the first failure prints "FAIL <step>: <why>" and exits 1. The last line is "ALL OK".
// Usage: cpp_client SOCKET [ID_HEX]  (ID_HEX: seal an object with this id and bytes "from c++",
// left in the store for the caller to read with pyarrow)
#include <plasma/client.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using arrow::Status;
using plasma::ObjectBuffer;
using plasma::ObjectID;
using plasma::PlasmaClient;

namespace {

void Fail(const char* step, const std::string& why) {
  std::printf("FAIL %s: %s\n", step, why.c_str());
  std::fflush(stdout);
  std::exit(1);
}

void Check(const char* step, const Status& status) {
  if (!status.ok()) Fail(step, status.ToString());
}

void Expect(const char* step, bool condition, const std::string& why) {
  if (!condition) Fail(step, why);
}

void Pass(const char* step) {
  std::printf("PASS %s\n", step);
  std::fflush(stdout);
}

std::string Bytes(const std::shared_ptr<arrow::Buffer>& buffer) {
  return std::string(reinterpret_cast<const char*>(buffer->data()), buffer->size());
}

ObjectID RandomID() {
  static std::random_device device;
  std::string binary(plasma::kUniqueIDSize, '\0');
  for (auto& byte : binary) byte = static_cast<char>(device() & 0xff);
  return ObjectID::from_binary(binary);
}

ObjectID FromHex(const std::string& hex) {
  std::string binary;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    binary.push_back(static_cast<char>(std::strtol(hex.substr(i, 2).c_str(), nullptr, 16)));
  }
  return ObjectID::from_binary(binary);
}

bool Contains(PlasmaClient& client, const ObjectID& id) {
  bool has = false;
  Check("contains", client.Contains(id, &has));
  return has;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SOCKET [ID_HEX]\n", argv[0]);
    return 2;
  }
  const std::string socket = argv[1];
  PlasmaClient client;
  Check("connect", client.Connect(socket, "", 0, 10));
  Expect("connect", client.store_capacity() > 0, "store_capacity() is 0");
  Pass("connect");

  {  // create, write, seal, get back (data and metadata)
    ObjectID id = RandomID();
    const std::string metadata = "meta";
    std::shared_ptr<arrow::Buffer> data;
    Check("create", client.Create(id, 100, reinterpret_cast<const uint8_t*>(metadata.data()),
                                  metadata.size(), &data));
    auto* bytes = static_cast<arrow::MutableBuffer*>(data.get())->mutable_data();
    for (int i = 0; i < 100; i++) bytes[i] = static_cast<uint8_t>(i * 7);
    Check("seal", client.Seal(id));
    std::vector<ObjectBuffer> found;
    Check("get", client.Get({id}, 0, &found));
    Expect("get", found.size() == 1 && found[0].data != nullptr, "object not found after seal");
    Expect("get", found[0].data->size() == 100, "wrong data size");
    for (int i = 0; i < 100; i++) {
      Expect("get", found[0].data->data()[i] == static_cast<uint8_t>(i * 7), "data differs");
    }
    Expect("get", Bytes(found[0].metadata) == metadata, "metadata differs");
    Expect("contains", Contains(client, id), "sealed object not contained");
    Pass("create/seal/get");
  }

  {  // CreateAndSealBatch, then a get of all of them
    std::vector<ObjectID> ids = {RandomID(), RandomID(), RandomID()};
    std::vector<std::string> data = {"alpha", "", std::string(5000, 'z')};
    std::vector<std::string> metadata = {"m1", "m2", ""};
    Check("batch", client.CreateAndSealBatch(ids, data, metadata));
    std::vector<ObjectBuffer> found;
    Check("batch get", client.Get(ids, 1000, &found));
    for (size_t i = 0; i < ids.size(); i++) {
      Expect("batch get", found[i].data != nullptr, "batch object missing");
      Expect("batch get", Bytes(found[i].data) == data[i], "batch data differs");
      Expect("batch get", Bytes(found[i].metadata) == metadata[i], "batch metadata differs");
    }
    // All or nothing: a batch repeating an existing id fails as a whole.
    ObjectID fresh = RandomID();
    Status again = client.CreateAndSealBatch({fresh, ids[0]}, {"x", "y"}, {"", ""});
    Expect("batch exists", plasma::IsPlasmaObjectExists(again), "duplicate batch: " + again.ToString());
    Expect("batch exists", !Contains(client, fresh), "a failed batch left an object behind");
    Pass("CreateAndSealBatch");
  }

  {  // Abort: the object is gone and its id free again
    ObjectID id = RandomID();
    {
      std::shared_ptr<arrow::Buffer> data;
      Check("abort create", client.Create(id, 64, nullptr, 0, &data));
    }
    // libplasma's Create keeps a second local count until Release (as Arrow's AbortTest does).
    Check("abort release", client.Release(id));
    Check("abort", client.Abort(id));
    Expect("abort", !Contains(client, id), "aborted object still contained");
    std::shared_ptr<arrow::Buffer> data;
    Check("abort recreate", client.Create(id, 8, nullptr, 0, &data));
    Check("abort recreate seal", client.Seal(id));
    Pass("Abort");
  }

  {  // Refresh moves an object to the most recently used end: Evict then takes the other one
    ObjectID older = RandomID(), newer = RandomID();
    Check("refresh", client.CreateAndSeal(older, std::string(1000, 'o'), ""));
    Check("refresh", client.CreateAndSeal(newer, std::string(1000, 'n'), ""));
    Check("refresh", client.Refresh({older}));
    // Evict everything evictable that is older than these two first, then exactly one of them.
    int64_t evicted = 0;
    int rounds = 0;
    while (Contains(client, older) && Contains(client, newer) && rounds++ < 1000) {
      Check("refresh evict", client.Evict(1, evicted));
    }
    Expect("refresh", Contains(client, older) && !Contains(client, newer),
           "Refresh did not protect the refreshed object");
    Pass("Refresh");
  }

  {  // List, Delete, Evict
    ObjectID id = RandomID();
    Check("list", client.CreateAndSeal(id, "listed", "md"));
    plasma::ObjectTable table;
    Check("list", client.List(&table));
    auto entry = table.find(id);
    Expect("list", entry != table.end(), "object missing from List");
    Expect("list", entry->second->data_size == 6 && entry->second->metadata_size == 2, "wrong sizes in List");
    Expect("list", entry->second->state == plasma::ObjectState::PLASMA_SEALED, "not sealed in List");
    Check("delete", client.Delete(id));
    Expect("delete", !Contains(client, id), "deleted object still contained");
    ObjectID evictable = RandomID();
    Check("evict", client.CreateAndSeal(evictable, std::string(4096, 'e'), ""));
    int64_t evicted = 0;
    Check("evict", client.Evict(1 << 30, evicted));
    Expect("evict", evicted >= 4096, "Evict freed " + std::to_string(evicted) + " bytes");
    Expect("evict", !Contains(client, evictable), "evicted object still contained");
    Pass("List/Delete/Evict");
  }

  {  // Subscribe: a seal notification with the sizes
    int fd = -1;
    Check("subscribe", client.Subscribe(&fd));
    ObjectID id = RandomID();
    Check("subscribe", client.CreateAndSeal(id, "notify me", "xy"));
    ObjectID seen;
    int64_t data_size = 0, metadata_size = 0;
    do {  // objects already sealed are announced first
      Check("subscribe", client.GetNotification(fd, &seen, &data_size, &metadata_size));
    } while (!(seen == id));
    Expect("subscribe", data_size == 9 && metadata_size == 2, "wrong sizes in the notification");
    Pass("Subscribe");
  }

  {  // SetClientOptions: a quota is granted once; a create larger than it fails
    PlasmaClient limited;
    Check("quota connect", limited.Connect(socket, "", 0, 10));
    const int64_t quota = client.store_capacity() / 10;
    Check("quota", limited.SetClientOptions("limited", quota));
    Status twice = limited.SetClientOptions("limited", quota);
    Expect("quota", plasma::IsPlasmaStoreFull(twice), "a second quota was granted: " + twice.ToString());
    std::shared_ptr<arrow::Buffer> data;
    Status big = limited.Create(RandomID(), quota + 1, nullptr, 0, &data);
    Expect("quota", plasma::IsPlasmaStoreFull(big), "a create over the quota: " + big.ToString());
    Expect("quota", !client.DebugString().empty(), "empty debug string");
    Check("quota disconnect", limited.Disconnect());
    Pass("SetClientOptions");
  }

  if (argc > 2) {  // leave an object for the caller
    Check("leave", client.CreateAndSeal(FromHex(argv[2]), "from c++", "cpp-meta"));
    Pass("leave object");
  }
  Check("disconnect", client.Disconnect());
  std::printf("ALL OK\n");
  return 0;
}
