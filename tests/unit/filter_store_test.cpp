// The on-disk filter store (issue 21): what it hands out is byte for byte a fresh compile,
// and an entry that is not exactly as this process would have written it is never used.
#include "runtime/seccomp/filter_store.hpp"

#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>

#include "common/file.hpp"
#include "common/text.hpp"
#include "runtime/seccomp/service_policy.hpp"
#include "tests/support/process.hpp"

namespace runtime = ipcrt::runtime;

namespace {

ipcrt::config::Service store_service(const std::string& name) {
  ipcrt::config::Service service;
  service.name = name;
  service.pointer = "/services/" + name;
  return service;
}

runtime::PlannedService reader_of(const std::string& path) {
  runtime::PlannedService planned;
  planned.queues.push_back({path, ipcrt::config::kPermRead, "hub:q", false});
  return planned;
}

bool identical(const ipcrt::platform::BpfProgram& a, const ipcrt::platform::BpfProgram& b) {
  return a.uses_notify == b.uses_notify && a.instructions.size() == b.instructions.size() &&
         std::memcmp(a.instructions.data(), b.instructions.data(),
                     a.instructions.size() * sizeof(sock_filter)) == 0;
}

// The program of `service` through a cache on `store`; `compiled`: whether libseccomp ran.
ipcrt::platform::BpfProgram through(const runtime::FilterStore& store,
                                    const ipcrt::config::Service& service,
                                    const runtime::PlannedService& planned, bool mediate,
                                    bool& compiled) {
  runtime::FilterCache cache(&store);
  auto program = cache.filter_for(service, planned, mediate);
  if (!program) FAIL(program.error().describe().c_str());
  compiled = cache.compiled() == 1;
  return *program;
}

struct Stored {
  ipcrt::test::TempDir dir;
  std::string path = dir.path() + "/filters";
  std::optional<runtime::FilterStore> store = runtime::FilterStore::open(path);
  ipcrt::config::Service service = store_service("app");
  runtime::PlannedService planned = reader_of("/q");
  std::string key = runtime::filter_key(service, planned, false);
  std::string entry = store ? path + "/" + store->entry_name(key) : std::string();
};

}  // namespace

// The store is root's only.
TEST_GROUP(FilterStore){void setup() override{if (::geteuid() != 0) TEST_EXIT;
}
}
;

TEST(FilterStore, AStoredProgramIsByteForByteAFreshCompile) {
  Stored stored;
  CHECK_TRUE(stored.store.has_value());
  struct stat info {};
  CHECK_EQUAL(0, ::stat(stored.path.c_str(), &info));
  LONGS_EQUAL(0700, info.st_mode & 07777);
  for (bool mediate : {false, true}) {
    // A mediated filter needs libseccomp's API level 5 (user notification), which qemu-user
    // does not report; the ARM images check it on real kernels.
    if (mediate && seccomp_api_get() < 5) {
      UT_PRINT("skipped the mediated compile: libseccomp reports no user notification here");
      continue;
    }
    bool compiled = false;
    auto first = through(*stored.store, stored.service, stored.planned, mediate, compiled);
    CHECK_TRUE(compiled);
    auto second =
        through(*stored.store, store_service("other"), reader_of("/r"), mediate, compiled);
    CHECK_FALSE(compiled);  // from the store, by another process's cache
    auto fresh = runtime::compile_service_filter(stored.service, stored.planned, mediate);
    CHECK_TRUE(fresh.has_value());
    CHECK_TRUE(identical(*fresh, first));
    CHECK_TRUE(identical(*fresh, second));
  }
}

TEST(FilterStore, EntriesAreKeyedByKernelLibseccompAndThisBinary) {
  Stored stored;
  CHECK_TRUE(stored.store.has_value());
  utsname kernel{};
  CHECK_EQUAL(0, ::uname(&kernel));
  const scmp_version* version = seccomp_version();
  const std::string& context = stored.store->context();
  STRCMP_CONTAINS(kernel.release, context.c_str());
  STRCMP_CONTAINS(
      ipcrt::cat("libseccomp=", version->major, '.', version->minor, '.', version->micro).c_str(),
      context.c_str());
  STRCMP_CONTAINS(ipcrt::cat("build=", runtime::own_build_id()).c_str(), context.c_str());
  CHECK_FALSE(runtime::own_build_id().empty());
  // Another input, another entry.
  auto writer = stored.planned;
  writer.queues.front().permissions = ipcrt::config::kPermWrite;
  CHECK_TRUE(stored.store->entry_name(stored.key) !=
             stored.store->entry_name(runtime::filter_key(stored.service, writer, false)));
}

TEST(FilterStore, ATamperedEntryIsNotUsedAndIsRewritten) {
  Stored stored;
  CHECK_TRUE(stored.store.has_value());
  bool compiled = false;
  auto good = through(*stored.store, stored.service, stored.planned, false, compiled);
  auto text = ipcrt::read_text_file(stored.entry);
  CHECK_TRUE(text.has_value());
  // One bit of one instruction, the size unchanged: ALLOW where EPERM was, say.
  std::string tampered = *text;
  tampered[tampered.size() - 8 - sizeof(sock_filter) + 4] ^= 1;
  {
    int fd = ::open(stored.entry.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    CHECK_TRUE(fd >= 0);
    CHECK_EQUAL(static_cast<ssize_t>(tampered.size()),
                ::write(fd, tampered.data(), tampered.size()));
    ::close(fd);
  }
  auto again = through(*stored.store, stored.service, stored.planned, false, compiled);
  CHECK_TRUE(compiled);
  CHECK_TRUE(identical(good, again));
  // Compiled again, the entry is good again.
  CHECK_TRUE(*ipcrt::read_text_file(stored.entry) == *text);
  (void)through(*stored.store, stored.service, stored.planned, false, compiled);
  CHECK_FALSE(compiled);
}

TEST(FilterStore, AnEntryOfAnotherKeyIsNotUsedUnderThisOnesName) {
  Stored stored;
  CHECK_TRUE(stored.store.has_value());
  bool compiled = false;
  auto writer = stored.planned;
  writer.queues.front().permissions = ipcrt::config::kPermWrite;
  (void)through(*stored.store, stored.service, writer, false, compiled);
  // A whole, well-formed entry (its checksum right) for the writer, where the reader's goes.
  const std::string writer_entry =
      stored.path + "/" +
      stored.store->entry_name(runtime::filter_key(stored.service, writer, false));
  CHECK_EQUAL(0, ::rename(writer_entry.c_str(), stored.entry.c_str()));
  auto reader = through(*stored.store, stored.service, stored.planned, false, compiled);
  CHECK_TRUE(compiled);
  auto fresh = runtime::compile_service_filter(stored.service, stored.planned, false);
  CHECK_TRUE(identical(*fresh, reader));
}

TEST(FilterStore, EntriesOthersCouldHaveWrittenAreNotUsed) {
  Stored stored;
  CHECK_TRUE(stored.store.has_value());
  bool compiled = false;
  (void)through(*stored.store, stored.service, stored.planned, false, compiled);
  const std::string copy = stored.path + "/copy";
  auto restore = [&] {
    (void)::unlink(stored.entry.c_str());
    auto text = ipcrt::read_text_file(copy);
    int fd = ::open(stored.entry.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK_TRUE(fd >= 0 && text.has_value());
    CHECK_EQUAL(static_cast<ssize_t>(text->size()), ::write(fd, text->data(), text->size()));
    ::close(fd);
  };
  CHECK_EQUAL(0, ::link(stored.entry.c_str(), copy.c_str()));
  // A second link: the entry might be someone's file linked in.
  (void)through(*stored.store, stored.service, stored.planned, false, compiled);
  CHECK_TRUE(compiled);
  restore();
  // Readable or writable by others.
  CHECK_EQUAL(0, ::chmod(stored.entry.c_str(), 0644));
  (void)through(*stored.store, stored.service, stored.planned, false, compiled);
  CHECK_TRUE(compiled);
  // Owned by another user.
  restore();
  CHECK_EQUAL(0, ::chown(stored.entry.c_str(), 4242, 4242));
  (void)through(*stored.store, stored.service, stored.planned, false, compiled);
  CHECK_TRUE(compiled);
  // A symlink to a good entry.
  restore();
  const std::string elsewhere = stored.dir.path() + "/elsewhere.bpf";
  CHECK_EQUAL(0, ::rename(stored.entry.c_str(), elsewhere.c_str()));
  CHECK_EQUAL(0, ::symlink(elsewhere.c_str(), stored.entry.c_str()));
  (void)through(*stored.store, stored.service, stored.planned, false, compiled);
  CHECK_TRUE(compiled);
  // The control: restored, it is used.
  restore();
  (void)through(*stored.store, stored.service, stored.planned, false, compiled);
  CHECK_FALSE(compiled);
}

TEST(FilterStore, ADirectoryOthersCanReachOrASymlinkIsNoStore) {
  ipcrt::test::TempDir dir;
  const std::string open_dir = dir.path() + "/open";
  CHECK_EQUAL(0, ::mkdir(open_dir.c_str(), 0700));
  CHECK_EQUAL(0, ::chmod(open_dir.c_str(), 0755));
  CHECK_FALSE(runtime::FilterStore::open(open_dir).has_value());
  const std::string foreign = dir.path() + "/foreign";
  CHECK_EQUAL(0, ::mkdir(foreign.c_str(), 0700));
  CHECK_EQUAL(0, ::chown(foreign.c_str(), 4242, 4242));
  CHECK_FALSE(runtime::FilterStore::open(foreign).has_value());
  const std::string good = dir.path() + "/good";
  CHECK_TRUE(runtime::FilterStore::open(good).has_value());
  const std::string link = dir.path() + "/link";
  CHECK_EQUAL(0, ::symlink(good.c_str(), link.c_str()));
  CHECK_FALSE(runtime::FilterStore::open(link).has_value());
}
