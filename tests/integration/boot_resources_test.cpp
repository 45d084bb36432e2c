// boot_resources() and its rollback journal on the real kernel, with Plans built by hand.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <mqueue.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "common/file.hpp"
#include "platform/mount.hpp"
#include "runtime/boot.hpp"
#include "runtime/supervisor.hpp"
#include "tests/support/process.hpp"
#include "tests/support/system_state.hpp"

using ipcrt::runtime::BootJournal;
using ipcrt::runtime::Identities;
using ipcrt::runtime::Plan;
using ipcrt::test::path_exists;
using ipcrt::test::queue_exists;
using ipcrt::test::queue_state;
using ipcrt::test::shm_store_mounted;
using ipcrt::test::unique_name;

namespace {

struct Cleanup {
  std::vector<std::string> queues;
  std::vector<std::string> files;
  std::vector<std::string> stores;  // manifests whose shm store is removed at the end
  ~Cleanup() {
    for (const auto& queue : queues) ::mq_unlink(queue.c_str());
    for (const auto& file : files) ::unlink(file.c_str());
    for (const auto& manifest : stores) ipcrt::test::ShmStoreCleanup{manifest};
  }
};

// Who "svc" runs as and the group of its slots "svc:q" and "svc:f": ids no host account needs
// to have, as for a dynamic user.
constexpr uid_t kServiceUid = 4321;
constexpr gid_t kSlotGid = 4322;

Identities identities() {
  Identities identities;
  identities.set_account(
      "svc",
      {{kServiceUid, kServiceUid, {kServiceUid, kSlotGid}}, true, "ipcrt-svc", "/", "/bin/sh"});
  identities.set_slot_group("svc:q", kSlotGid);
  identities.set_slot_group("svc:f", kSlotGid);
  return identities;
}

Plan plan_with(const std::string& name) {
  Plan plan;
  plan.manifest_name = name;
  plan.identities = identities();
  return plan;
}

ipcrt::runtime::PlannedShmObject shm_object(const std::string& name,
                                            std::vector<std::string> writers) {
  ipcrt::runtime::PlannedShmObject object;
  object.name = name;
  object.slot = "svc:f";
  object.owner_service = "svc";
  object.writers = std::move(writers);
  return object;
}

struct FileState {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;
};
FileState file_state(const std::string& path) {
  struct stat info {};
  CHECK_EQUAL_TEXT(0, ::stat(path.c_str(), &info), path.c_str());
  return {info.st_uid, info.st_gid, info.st_mode & 07777};
}

ipcrt::runtime::PlannedQueue queue(const std::string& path, long max_messages,
                                   bool remove_on_stop = false) {
  ipcrt::runtime::PlannedQueue planned;
  planned.path = path;
  planned.max_messages = max_messages;
  planned.message_size = 64;
  planned.mode = 0640;
  planned.owner_service = "svc";
  planned.slot = "svc:q";
  planned.remove_on_stop = remove_on_stop;
  return planned;
}

}  // namespace

TEST_GROUP(BootResources){};

TEST(BootResources, JournalRollsBackInReverseAndOnlyWhatWasRecorded) {
  Cleanup cleanup;
  ipcrt::test::TempDir scratch;
  std::string queue_path = "/" + unique_name("bj");
  std::string file = scratch.write_file("object", "x");
  std::string dir = "/dev/shm/" + unique_name("bj");
  std::string manifest = unique_name("bj");
  cleanup.queues.push_back(queue_path);
  cleanup.stores.push_back(manifest);
  mq_attr attributes{};
  attributes.mq_maxmsg = 2;
  attributes.mq_msgsize = 16;
  ::mq_close(::mq_open(queue_path.c_str(), O_CREAT | O_RDWR, 0600, &attributes));
  ::mkdir(dir.c_str(), 01777);
  ::close(::open((dir + "/placeholder").c_str(), O_CREAT | O_WRONLY, 0600));
  ipcrt::test::LeftoverShmStore store(manifest);
  CHECK_TRUE(shm_store_mounted(manifest));
  {
    BootJournal journal;
    journal.record(BootJournal::Kind::Queue, queue_path);
    journal.record(BootJournal::Kind::ShmStore, store.path);
    journal.record(BootJournal::Kind::File, file);
    journal.record(BootJournal::Kind::PrivateDir, dir);
    LONGS_EQUAL(4, journal.entries().size());
    journal.rollback();
    LONGS_EQUAL(0, journal.entries().size());
  }
  CHECK_FALSE(queue_exists(queue_path));
  CHECK_FALSE(path_exists(file));
  CHECK_FALSE(path_exists(dir));
  CHECK_FALSE(shm_store_mounted(manifest));
  CHECK_FALSE(path_exists(store.path));
}

TEST(BootResources, CreatesQueuesObjectsAndPrivateDirsWithExactModes) {
  Cleanup cleanup;
  std::string name = unique_name("bp");
  Plan plan = plan_with(name);
  plan.queues.push_back(queue("/" + name, 4, true));
  cleanup.queues.push_back("/" + name);
  cleanup.stores.push_back(name);
  plan.shm.push_back(shm_object(name, {"svc"}));
  plan.shm.back().size = 5000;
  ipcrt::runtime::PlannedService service;
  service.name = "svc";
  service.shm_dir = "/dev/shm/ipcrt." + name + ".svc";
  service.shm.push_back({name, true, "svc:f"});
  plan.services.push_back(service);

  auto booted = ipcrt::runtime::boot_resources(plan);
  CHECK_TRUE_TEXT(booted.has_value(), booted ? "" : booted.error().describe().c_str());
  struct stat info {};
  CHECK_EQUAL(0, ::stat(service.shm_dir.c_str(), &info));
  LONGS_EQUAL(01777, info.st_mode & 07777);
  CHECK(path_exists(service.shm_dir + "/" + name));  // the mount point for the granted object
  // The object is on the runtime's own tmpfs (SPEC §4.2), not in the host's /dev/shm: a
  // tmpfs root's 0700, the size of what is declared (a page) plus the margin.
  CHECK_FALSE(path_exists("/dev/shm/" + name));
  const std::string store = ipcrt::test::shm_store(name);
  CHECK_TRUE(shm_store_mounted(name));
  struct statfs filesystem {};
  CHECK_EQUAL(0, ::statfs(store.c_str(), &filesystem));
  CHECK_EQUAL(TMPFS_MAGIC, static_cast<unsigned long>(filesystem.f_type));
  CHECK_EQUAL(0, ::stat(store.c_str(), &info));
  LONGS_EQUAL(0, info.st_uid);
  LONGS_EQUAL(0700, info.st_mode & 07777);
  CHECK_EQUAL(0, ::stat((store + "/..").c_str(), &info));
  LONGS_EQUAL(0700, info.st_mode & 07777);
  const auto page = static_cast<unsigned long long>(::sysconf(_SC_PAGESIZE));
  const unsigned long long expected =
      ipcrt::runtime::kShmStoreMargin + (5000 + page - 1) / page * page;
  CHECK_EQUAL(expected, ipcrt::test::shm_store_size(name));
  // The slot service's uid and the slot's group own both; only the owner may write.
  auto object = file_state(ipcrt::test::shm_object(name, name));
  LONGS_EQUAL(kServiceUid, object.uid);
  LONGS_EQUAL(kSlotGid, object.gid);
  LONGS_EQUAL(0640, object.mode);
  CHECK_EQUAL(0, ::stat(ipcrt::test::shm_object(name, name).c_str(), &info));
  LONGS_EQUAL(5000, info.st_size);
  mqd_t created = ::mq_open(("/" + name).c_str(), O_RDONLY);
  CHECK_EQUAL(0, ::fstat(created, &info));
  ::mq_close(created);
  LONGS_EQUAL(kServiceUid, info.st_uid);
  LONGS_EQUAL(kSlotGid, info.st_gid);
  LONGS_EQUAL(0640, info.st_mode & 07777);

  ipcrt::runtime::release_resources(*booted);
  CHECK_FALSE(path_exists(service.shm_dir));
  CHECK_FALSE(queue_exists("/" + name));
  CHECK_FALSE_TEXT(shm_store_mounted(name), "the objects' tmpfs ends with the run");
  CHECK_FALSE(path_exists(store));
  CHECK_FALSE(path_exists("/run/ipcrt/" + name));
}

// A runtime that was SIGKILLed (or crashed) leaves its store mounted: the next boot of the
// manifest adopts it with the objects it still declares, contents and all, and removes what
// it no longer declares. A boot that then fails leaves the adopted store as it found it (it
// did not make it) and removes only the objects it created; a manifest without objects
// unmounts such a leftover.
TEST(BootResources, ALeftoverStoreIsAdoptedSweptAndNeverUnmountedByARollback) {
  Cleanup cleanup;
  std::string name = unique_name("bl");
  cleanup.stores.push_back(name);
  ipcrt::test::LeftoverShmStore leftover(name);
  CHECK_FALSE(leftover.path.empty());
  int kept = ::open(leftover.object("kept").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  CHECK_EQUAL(4, ::write(kept, "kept", 4));
  ::close(kept);
  ::close(::open(leftover.object("gone").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600));

  Plan plan = plan_with(name);
  plan.shm.push_back(shm_object("kept", {"svc"}));
  plan.shm.push_back(shm_object("new", {"svc"}));
  auto booted = ipcrt::runtime::boot_resources(plan);
  CHECK_TRUE_TEXT(booted.has_value(), booted ? "" : booted.error().describe().c_str());
  struct stat info {};
  CHECK_EQUAL(0, ::stat(leftover.object("kept").c_str(), &info));
  LONGS_EQUAL_TEXT(4, info.st_size, "the adopted object keeps its contents");
  LONGS_EQUAL(kServiceUid, info.st_uid);
  CHECK_FALSE_TEXT(path_exists(leftover.object("gone")), "no longer declared: swept");
  CHECK_TRUE(path_exists(leftover.object("new")));
  CHECK_EQUAL(ipcrt::runtime::kShmStoreMargin, ipcrt::test::shm_store_size(name));

  // Failing half-way (a queue in the way, after the objects): the object this boot made is
  // rolled back, the adopted one and the store stay.
  Plan failing = plan_with(name);
  failing.shm.push_back(shm_object("kept", {"svc"}));
  failing.shm.push_back(shm_object("another", {"svc"}));
  ipcrt::runtime::PlannedService service;
  service.name = "svc";
  service.shm_dir = "/dev/shm/ipcrt." + name + ".svc";
  failing.services.push_back(service);
  ::mkdir(service.shm_dir.c_str(), 0700);  // root's, mode 0700: refused as a private dir
  booted = ipcrt::runtime::boot_resources(failing);
  ::rmdir(service.shm_dir.c_str());
  CHECK_FALSE(booted.has_value());
  CHECK_FALSE_TEXT(path_exists(leftover.object("another")), "rolled back");
  CHECK_TRUE(path_exists(leftover.object("kept")));
  CHECK_TRUE_TEXT(shm_store_mounted(name), "an adopted store is never unmounted by a rollback");

  // Nothing declared any more: the leftover is unmounted.
  booted = ipcrt::runtime::boot_resources(plan_with(name));
  CHECK_TRUE_TEXT(booted.has_value(), booted ? "" : booted.error().describe().c_str());
  CHECK_FALSE(shm_store_mounted(name));
  CHECK_FALSE(path_exists(leftover.path));
}

// Only a store a runtime made is adopted: another filesystem, or a tmpfs with another mode
// (someone else's), fails the boot and is left as it is.
TEST(BootResources, AForeignMountAtTheStoresPathFailsTheBootUntouched) {
  Cleanup cleanup;
  std::string name = unique_name("bm");
  cleanup.stores.push_back(name);
  ipcrt::test::LeftoverShmStore foreign(name, "mode=0755");
  CHECK_FALSE(foreign.path.empty());
  ::close(::open(foreign.object("theirs").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600));
  Plan plan = plan_with(name);
  plan.shm.push_back(shm_object("obj", {"svc"}));
  auto booted = ipcrt::runtime::boot_resources(plan);
  CHECK_FALSE(booted.has_value());
  STRCMP_CONTAINS("is a tmpfs with another owner or mode", booted.error().describe().c_str());
  STRCMP_CONTAINS(("umount " + foreign.path).c_str(), booted.error().describe().c_str());
  CHECK_TRUE(path_exists(foreign.object("theirs")));
  CHECK_FALSE(path_exists(foreign.object("obj")));
  CHECK_TRUE(shm_store_mounted(name));
}

TEST(BootResources, AdoptsAnIdenticalQueueAndNeverRemovesItOnRollback) {
  Cleanup cleanup;
  std::string name = unique_name("ba");
  std::string adopted = "/" + name + "-a";
  std::string conflicting = "/" + name + "-c";
  cleanup.queues = {adopted, conflicting};
  mq_attr attributes{};
  attributes.mq_maxmsg = 4;
  attributes.mq_msgsize = 64;
  mqd_t existing = ::mq_open(adopted.c_str(), O_CREAT | O_RDWR, 0600, &attributes);
  CHECK_EQUAL(0, ::mq_send(existing, "kept", 4, 0));
  ::mq_close(existing);
  attributes.mq_maxmsg = 2;
  ::mq_close(::mq_open(conflicting.c_str(), O_CREAT | O_RDWR, 0600, &attributes));

  Plan plan = plan_with(name);
  plan.queues.push_back(queue(adopted, 4));
  plan.queues.push_back(queue(conflicting, 4));
  auto booted = ipcrt::runtime::boot_resources(plan);
  CHECK_FALSE(booted.has_value());
  auto kept = queue_state(adopted);
  CHECK(kept.has_value());
  LONGS_EQUAL_TEXT(1, kept->messages, "the adopted queue keeps its message");
}

// Boot checks the descriptor it opened, not what `plan` saw: a queue another user left (or
// swapped in after planning) fails the boot, the queues this boot made are rolled back, and
// the foreign queue keeps its owner, mode and messages.
TEST(BootResources, ForeignQueueFailsTheBootAndIsLeftUntouched) {
  Cleanup cleanup;
  std::string name = unique_name("bf");
  std::string created = "/" + name + "-n";
  std::string foreign = "/" + name + "-f";
  cleanup.queues = {created, foreign};
  mq_attr attributes{};
  attributes.mq_maxmsg = 4;
  attributes.mq_msgsize = 64;
  mqd_t planted = ::mq_open(foreign.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attributes);
  CHECK(planted != static_cast<mqd_t>(-1));
  CHECK_EQUAL(0, ::mq_send(planted, "theirs", 6, 0));
  CHECK_EQUAL(0, ::fchmod(planted, 0666));
  CHECK_EQUAL(0, ::fchown(planted, 65534, 65534));
  ::mq_close(planted);

  Plan plan = plan_with(name);
  plan.queues.push_back(queue(created, 4));
  plan.queues.push_back(queue(foreign, 4));
  auto booted = ipcrt::runtime::boot_resources(plan);
  CHECK_FALSE(booted.has_value());
  std::string error = booted.error().describe();
  STRCMP_CONTAINS(("queue " + foreign + " already exists with owner uid 65534").c_str(),
                  error.c_str());
  STRCMP_CONTAINS("another user owns it", error.c_str());
  STRCMP_CONTAINS(("rm /dev/mqueue/" + foreign.substr(1)).c_str(), error.c_str());
  CHECK_FALSE_TEXT(queue_exists(created), "the queue this boot made is rolled back");

  auto kept = queue_state(foreign);
  CHECK(kept.has_value());
  LONGS_EQUAL(65534, kept->owner);
  LONGS_EQUAL(0666, kept->mode);
  LONGS_EQUAL(1, kept->messages);
}

// SPEC §4.2: a queue of the slot's user (or root's, from a runtime before slot groups) whose
// group or mode a service changed is adopted with its messages and put back as the manifest
// says.
TEST(BootResources, AdoptedQueueGetsTheManifestsOwnerGroupAndModeBack) {
  struct Case {
    const char* what;
    uid_t uid;
    gid_t gid;
    mode_t mode;
  };
  const Case cases[] = {{"wider mode", kServiceUid, kSlotGid, 0666},
                        {"another group", kServiceUid, 100, 0660},
                        {"root's", 0, 0, 0600}};
  for (const auto& c : cases) {
    Cleanup cleanup;
    std::string path = "/" + unique_name("br");
    cleanup.queues = {path};
    mq_attr attributes{};
    attributes.mq_maxmsg = 4;
    attributes.mq_msgsize = 64;
    mqd_t planted = ::mq_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attributes);
    CHECK(planted != static_cast<mqd_t>(-1));
    CHECK_EQUAL(0, ::mq_send(planted, "kept", 4, 0));
    CHECK_EQUAL(0, ::fchown(planted, c.uid, c.gid));
    CHECK_EQUAL(0, ::fchmod(planted, c.mode));
    ::mq_close(planted);

    Plan plan = plan_with(path.substr(1));
    plan.queues.push_back(queue(path, 4));
    auto booted = ipcrt::runtime::boot_resources(plan);
    CHECK_TRUE_TEXT(booted.has_value(), booted ? c.what : booted.error().describe().c_str());
    mqd_t adopted = ::mq_open(path.c_str(), O_RDONLY);
    struct stat info {};
    CHECK_EQUAL(0, ::fstat(adopted, &info));
    ::mq_close(adopted);
    LONGS_EQUAL_TEXT(kServiceUid, info.st_uid, c.what);
    LONGS_EQUAL_TEXT(kSlotGid, info.st_gid, c.what);
    LONGS_EQUAL_TEXT(0640, info.st_mode & 07777, c.what);
    LONGS_EQUAL_TEXT(1, queue_state(path)->messages, c.what);
  }
}

TEST_GROUP(BootLaunch){};

namespace {

// A probe whose filter sends a syscall the probe never makes (acct) to a listener.
ipcrt::runtime::LaunchSpec probe_with_listener(const char* exit_status) {
  scmp_filter_ctx context = seccomp_init(SCMP_ACT_ALLOW);
  CHECK(context != nullptr);
  CHECK_EQUAL(0, seccomp_rule_add(context, SCMP_ACT_NOTIFY, SCMP_SYS(acct), 0));
  int memfd = ::memfd_create("bpf", MFD_CLOEXEC);
  CHECK_EQUAL(0, seccomp_export_bpf(context, memfd));
  seccomp_release(context);
  off_t size = ::lseek(memfd, 0, SEEK_END);
  ipcrt::runtime::LaunchSpec spec;
  spec.service = "probe";
  spec.arguments = {IPCRT_BOOT_PROBE, "exit", exit_status};
  spec.filter.instructions.resize(static_cast<std::size_t>(size) / sizeof(sock_filter));
  CHECK_EQUAL(size,
              ::pread(memfd, spec.filter.instructions.data(), static_cast<std::size_t>(size), 0));
  ::close(memfd);
  spec.filter.uses_notify = true;
  return spec;
}

}  // namespace

// A filter that sends a syscall the probe never makes to a listener: launch() must hand the
// listener to the parent (pidfd_getfd before exec) and the program must still run.
TEST(BootLaunch, HandsTheSeccompListenerToTheParent) {
  ipcrt::runtime::LaunchSpec spec = probe_with_listener("7");
  auto launched = ipcrt::runtime::launch(spec);
  CHECK_TRUE_TEXT(launched.has_value(), launched ? "" : launched.error().describe().c_str());
  CHECK_TRUE(launched->listener.valid());
  int status = 0;
  CHECK_EQUAL(launched->pid, ::waitpid(launched->pid, &status, 0));
  CHECK_TRUE(WIFEXITED(status));
  LONGS_EQUAL(7, WEXITSTATUS(status));
}

// The supervisor's loop drives a launch step by step: begin_launch() does not wait for the
// child, which cannot exec before its listener was taken (it waits for the resume byte).
TEST(BootLaunch, BeginsWithoutWaitingAndExecsOnlyAfterTheListenerWasTaken) {
  ipcrt::runtime::LaunchSpec spec = probe_with_listener("9");
  auto pending = ipcrt::runtime::begin_launch(spec);
  CHECK_TRUE_TEXT(pending.has_value(), pending ? "" : pending.error().describe().c_str());
  siginfo_t info{};
  CHECK_EQUAL(0,
              ::waitid(P_PID, static_cast<id_t>(pending->pid), &info, WEXITED | WNOHANG | WNOWAIT));
  LONGS_EQUAL(0, info.si_pid);  // still confining, or waiting for us

  auto step = ipcrt::runtime::continue_launch(*pending);
  CHECK_TRUE_TEXT(step.has_value(), step ? "" : step.error().describe().c_str());
  CHECK_FALSE(*step);  // the listener report: taken, the child resumes
  CHECK_TRUE(pending->listener.valid());
  step = ipcrt::runtime::continue_launch(*pending);
  CHECK_TRUE(step.has_value() && *step);  // end-of-file: exec'd
  int status = 0;
  CHECK_EQUAL(pending->pid, ::waitpid(pending->pid, &status, 0));
  CHECK_TRUE(WIFEXITED(status));
  LONGS_EQUAL(9, WEXITSTATUS(status));
}

TEST(BootLaunch, ReportsTheFailingPhaseOfTheChild) {
  ipcrt::runtime::LaunchSpec spec;
  spec.service = "probe";
  spec.arguments = {IPCRT_BOOT_PROBE, "exit", "0"};
  spec.new_mount_namespace = true;
  spec.private_shm_dir = "/dev/shm/" + unique_name("missing-dir");
  auto launched = ipcrt::runtime::launch(spec);
  CHECK_FALSE(launched.has_value());
  STRCMP_EQUAL(("phase=private-shm errno=ENOENT path=" + spec.private_shm_dir).c_str(),
               launched.error().describe().c_str());
}

TEST_GROUP(BootSupervisor){};

// Both services ignore SIGTERM; the consumer asks the supervisor to stop. The supervisor must
// escalate to SIGKILL after the stop timeout, consumer first, and report a requested stop.
TEST(BootSupervisor, EscalatesToSigkillAfterTheStopTimeout) {
  std::vector<ipcrt::runtime::SupervisedService> services(2);
  services[0].spec.service = "provider";
  services[0].spec.arguments = {IPCRT_BOOT_PROBE, "ignore-term"};
  services[1].spec.service = "consumer";
  services[1].spec.arguments = {IPCRT_BOOT_PROBE, "term-parent"};
  services[1].depends_on = {"provider"};
  ipcrt::runtime::SupervisorOptions options;
  options.stop_timeout = std::chrono::milliseconds(100);
  auto result = ipcrt::runtime::Supervisor(std::move(services), options).run();
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, nullptr);
  CHECK_TRUE_TEXT(result.has_value(), result ? "" : result.error().describe().c_str());
  CHECK_TRUE(result->outcome == ipcrt::runtime::SupervisorOutcome::Stopped);
  CHECK_FALSE(result->any_failed);
}

// A child that has not exec'd by the launch deadline is killed and its start fails, without
// holding up the loop. A deadline of 0 ms expires at the loop's first turn, while the child
// is still in its new mount namespace's setup; should the child ever win that race, the run
// is tried again.
TEST(BootSupervisor, KillsAChildThatHasNotExecdByTheLaunchDeadline) {
  bool timed_out = false;
  for (int attempt = 0; attempt < 5 && !timed_out; ++attempt) {
    std::vector<ipcrt::runtime::SupervisedService> services(1);
    services[0].spec.service = "slow";
    services[0].spec.arguments = {IPCRT_BOOT_PROBE, "exit", "0"};
    services[0].spec.new_mount_namespace = true;
    ipcrt::runtime::SupervisorOptions options;
    options.launch_timeout = std::chrono::milliseconds(0);
    auto result = ipcrt::runtime::Supervisor(std::move(services), options).run();
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, nullptr);
    CHECK_TRUE_TEXT(result.has_value(), result ? "" : result.error().describe().c_str());
    timed_out = result->any_failed;  // a start that failed; the probe itself exits 0
  }
  CHECK_TRUE(timed_out);
  // What is left of the killed child is a zombie that any wait reaps: no process of it runs.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(-1, &status, WNOHANG) >= 0 && std::chrono::steady_clock::now() < deadline) {
    ::usleep(1000);
  }
  LONGS_EQUAL(ECHILD, errno);
}

// /dev/shm is writable by every local user: what a boot finds there must not be adopted unless
// the runtime made it. uid 65534 (nobody) plays the attacker.
TEST_GROUP(BootShmOwnership){};

namespace {

constexpr uid_t kOtherUid = 65534;

// A private dir planted by another user, with a file the runtime must not delete.
struct PlantedDir {
  std::string path;
  explicit PlantedDir(const std::string& at) : path(at) {
    ::mkdir(path.c_str(), 0700);
    ::chmod(path.c_str(), 01777);
    ::close(::open((path + "/theirs").c_str(), O_CREAT | O_WRONLY, 0600));
    CHECK_EQUAL(0, ::chown(path.c_str(), kOtherUid, kOtherUid));
  }
  ~PlantedDir() {
    ::unlink((path + "/theirs").c_str());
    ::rmdir(path.c_str());
  }
};

Plan plan_with_private_dir(const std::string& name, std::string& dir) {
  Plan plan = plan_with(name);
  plan.queues.push_back(queue("/" + name, 4, true));
  ipcrt::runtime::PlannedService service;
  service.name = "svc";
  service.shm_dir = dir = "/dev/shm/ipcrt." + name + ".svc";
  plan.services.push_back(service);
  return plan;
}

}  // namespace

TEST(BootShmOwnership, PrivateDirOwnedByAnotherUserFailsTheBootAndIsLeftAlone) {
  Cleanup cleanup;
  std::string name = unique_name("bo");
  cleanup.queues.push_back("/" + name);
  std::string dir;
  Plan plan = plan_with_private_dir(name, dir);
  PlantedDir planted(dir);

  auto booted = ipcrt::runtime::boot_resources(plan);
  CHECK_FALSE(booted.has_value());
  std::string described = booted.error().describe();
  CHECK_TEXT(described.find(dir + " exists and is owned by uid 65534") != std::string::npos,
             described.c_str());
  CHECK_TEXT(described.find("rm -r " + dir) != std::string::npos, described.c_str());
  CHECK_TRUE(path_exists(dir + "/theirs"));
  CHECK_FALSE_TEXT(queue_exists("/" + name), "the queue this boot created was rolled back");
}

TEST(BootShmOwnership, SymlinkAtThePrivateDirPathFailsTheBoot) {
  Cleanup cleanup;
  ipcrt::test::TempDir victim;
  std::string kept = victim.write_file("kept", "x");
  std::string name = unique_name("bs");
  cleanup.queues.push_back("/" + name);
  std::string dir;
  Plan plan = plan_with_private_dir(name, dir);
  CHECK_EQUAL(0, ::symlink(victim.path().c_str(), dir.c_str()));
  cleanup.files.push_back(dir);

  auto booted = ipcrt::runtime::boot_resources(plan);
  CHECK_FALSE(booted.has_value());
  CHECK_TEXT(booted.error().describe().find("is not a directory") != std::string::npos,
             booted.error().describe().c_str());
  CHECK_TRUE(path_exists(kept));
  struct stat info {};
  CHECK_EQUAL(0, ::lstat(dir.c_str(), &info));
  CHECK_TRUE_TEXT(S_ISLNK(info.st_mode), "the symlink is not removed either");
}

// In a store left by an earlier run (only root can write there): an object another uid owns
// (a service of an earlier manifest may have made it so), or one with a second name, is not
// adopted.
TEST(BootShmOwnership, ObjectOwnedByAnotherUserOrHardLinkedFailsTheBoot) {
  Cleanup cleanup;
  std::string name = unique_name("bo");
  cleanup.stores.push_back(name);
  ipcrt::test::LeftoverShmStore store(name);
  std::string path = store.object(name);
  ::close(::open(path.c_str(), O_CREAT | O_WRONLY, 0600));
  CHECK_EQUAL(0, ::chown(path.c_str(), kOtherUid, kOtherUid));
  Plan plan = plan_with(name);
  plan.shm.push_back(shm_object(name, {"svc"}));

  auto booted = ipcrt::runtime::boot_resources(plan);
  CHECK_FALSE(booted.has_value());
  std::string described = booted.error().describe();
  CHECK_TEXT(described.find(path + " exists and is owned by uid 65534") != std::string::npos,
             described.c_str());
  CHECK_TEXT(described.find("rm -r " + path) != std::string::npos, described.c_str());
  CHECK_TRUE_TEXT(path_exists(path), "the planted object is never removed");

  // Ours, but with a second name (a hard link to some other file): refused too. (A store a
  // runtime mounted has no inode to spare for a link: made in a fresh leftover.)
  std::string linked = unique_name("bo");
  cleanup.stores.push_back(linked);
  ipcrt::test::LeftoverShmStore second_store(linked);
  std::string object = second_store.object(linked);
  ::close(::open(object.c_str(), O_CREAT | O_WRONLY, 0600));
  std::string second = second_store.object("second-name");
  CHECK_EQUAL(0, ::link(object.c_str(), second.c_str()));
  Plan with_link = plan_with(linked);
  with_link.shm.push_back(shm_object(linked, {"svc"}));
  with_link.shm.push_back(shm_object("second-name", {"svc"}));  // not swept
  booted = ipcrt::runtime::boot_resources(with_link);
  CHECK_FALSE(booted.has_value());
  STRCMP_CONTAINS("is not a regular file with a single link", booted.error().describe().c_str());
  ::unlink(second.c_str());
  with_link.shm.pop_back();
  booted = ipcrt::runtime::boot_resources(with_link);
  CHECK_TRUE_TEXT(booted.has_value(), booted ? "" : booted.error().describe().c_str());
  ipcrt::runtime::release_resources(*booted);
  CHECK_FALSE(shm_store_mounted(linked));
}

// Every service granted an object has the slot's group: the mode lets exactly them in
// (write only where plugs may write), others get no bit. An adopted object, of the runtime
// before slot groups say, is put back the same way, contents kept.
TEST(BootShmOwnership, ObjectsBelongToTheSlotsGroupAndGiveOthersNothing) {
  Cleanup cleanup;
  std::string name = unique_name("bw");
  cleanup.stores.push_back(name);
  ipcrt::test::LeftoverShmStore store(name);
  std::string shared = store.object(name + "-w");
  std::string read_only = store.object(name + "-r");
  std::string adopted = store.object(name + "-a");
  int existing = ::open(adopted.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  CHECK_EQUAL(4, ::write(existing, "kept", 4));
  CHECK_EQUAL(0, ::fchmod(existing, 0666));
  ::close(existing);
  Plan plan = plan_with(name);
  plan.shm.push_back(shm_object(name + "-w", {"svc", "peer"}));
  plan.shm.push_back(shm_object(name + "-r", {"svc"}));
  plan.shm.back().readers = {"peer"};
  plan.shm.push_back(shm_object(name + "-a", {"svc", "peer"}));

  auto booted = ipcrt::runtime::boot_resources(plan);
  CHECK_TRUE_TEXT(booted.has_value(), booted ? "" : booted.error().describe().c_str());
  for (const auto& [path, mode] :
       {std::pair{shared, 0660}, std::pair{read_only, 0640}, std::pair{adopted, 0660}}) {
    auto state = file_state(path);
    LONGS_EQUAL_TEXT(kServiceUid, state.uid, path.c_str());
    LONGS_EQUAL_TEXT(kSlotGid, state.gid, path.c_str());
    LONGS_EQUAL_TEXT(mode, state.mode, path.c_str());
  }
  struct stat info {};
  CHECK_EQUAL(0, ::stat(adopted.c_str(), &info));
  LONGS_EQUAL_TEXT(4, info.st_size, "the adopted object keeps its contents");
}

namespace {

std::string owner_manifest(const std::string& name, const std::string& object) {
  return "{\"version\": 1, \"name\": \"" + name +
         "\", \"services\": {\"owner\": {\"command\": [\"" IPCRT_BOOT_PROBE
         "\", \"exit\", \"0\"], \"slots\": {\"f\": {\"interface\": "
         "\"shared-memory\", \"write\": [\"" +
         object + "\"]}}}}}\n";
}

// /run/ipcrt/<name> and its staging/, made by a test (only root can: /run/ipcrt is root's).
struct StagingParents {
  std::string dir;
  explicit StagingParents(const std::string& name) : dir("/run/ipcrt/" + name) {
    ::mkdir(dir.c_str(), 0700);
    ::mkdir((dir + "/staging").c_str(), 0700);
  }
  ~StagingParents() {
    ::rmdir((dir + "/staging").c_str());
    ::rmdir(dir.c_str());
  }
};

}  // namespace

// The staging directories are on a fresh tmpfs of the run: a directory found where one goes
// (root's only, since the parents are root's 0700) is neither used nor deleted.
TEST(BootShmOwnership, AStagingDirFoundThereIsCoveredByTheRunsTmpfsAndKept) {
  ipcrt::test::TempDir dir;
  std::string name = unique_name("br");
  StagingParents parents(name);
  PlantedDir planted(parents.dir + "/staging/owner");
  ipcrt::test::ShmStoreCleanup store{name};
  auto result = ipcrt::test::run_ipcrt(
      {"run", dir.write_file("manifest.json", owner_manifest(name, unique_name("bro")))});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  CHECK_TRUE(path_exists(planted.path + "/theirs"));
  CHECK_FALSE_TEXT(ipcrt::platform::is_mount_point(parents.dir + "/staging"),
                   "the run unmounted its staging tmpfs");
}

namespace {

// A plan of "svc" (and, for a reload's service, "other") with staging directories on the run's
// tmpfs, as plan_manifest makes them.
Plan plan_with_staging(const std::string& name) {
  Plan plan = plan_with(name);
  for (const char* service : {"svc", "other"}) {
    ipcrt::runtime::PlannedService planned;
    planned.name = service;
    planned.shm_dir = ipcrt::runtime::staging_root(name) + "/" + service;
    plan.services.push_back(planned);
  }
  plan.identities.set_account(
      "other", {{kServiceUid + 10, kServiceUid + 10, {kServiceUid + 10}}, true, "ipcrt-other",
                "/", "/bin/sh"});
  return plan;
}

bool mounted_anywhere_under(const std::string& path) {
  const std::string table = ipcrt::read_text_file("/proc/self/mountinfo").value_or("");
  return table.find(" " + path) != std::string::npos;
}

}  // namespace

// The end of a run removes the staging directories by unmounting their tmpfs (issue 21: the
// stop no longer removes them one by one): nothing is left, neither the directories with what
// the launches put in them, nor the mount, nor /run/ipcrt/<manifest>.
TEST(BootResources, ReleaseUnmountsTheStagingTmpfsAndEveryStagingDirOnIt) {
  const std::string name = unique_name("bg");
  const std::string root = ipcrt::runtime::staging_root(name);
  auto booted = ipcrt::runtime::boot_resources(plan_with_staging(name));
  CHECK_TRUE_TEXT(booted.has_value(), booted ? "" : booted.error().describe().c_str());
  if (!booted) return;
  CHECK_TRUE(ipcrt::platform::is_mount_point(root));
  for (const char* service : {"svc", "other"}) {
    const std::string dir = root + "/" + service;
    CHECK_TRUE_TEXT(path_exists(dir), dir.c_str());
    CHECK_TRUE(ipcrt::runtime::on_staging_tmpfs(*booted, dir));
    // What a launch writes there (the account files) and a service's /dev mount point.
    ::close(::open((dir + "/passwd").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    ::mkdir((dir + "/shm").c_str(), 0755);
  }
  CHECK_FALSE(ipcrt::runtime::on_staging_tmpfs(*booted, root));
  CHECK_FALSE(ipcrt::runtime::on_staging_tmpfs(*booted, root + "x/svc"));

  ipcrt::runtime::release_resources(*booted);
  CHECK_FALSE_TEXT(mounted_anywhere_under(root), "the staging tmpfs is unmounted");
  CHECK_FALSE_TEXT(path_exists("/run/ipcrt/" + name), "nothing of the manifest under /run/ipcrt");
}

// Unmounted first, the tmpfs's directories are gone with it; the directory its mount covered is
// another's (found there before the run) and keeps what it holds, even where it has a service's
// name, is root's and has a staging directory's mode.
TEST(BootShmOwnership, ReleaseNeverRemovesTheDirectoriesTheStagingTmpfsCovered) {
  const std::string name = unique_name("bg");
  StagingParents parents(name);
  const std::string covered = parents.dir + "/staging/svc";
  ::mkdir(covered.c_str(), 0700);
  ::chmod(covered.c_str(), 01777);
  const std::string kept = covered + "/kept";
  ::close(::open(kept.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  struct RemoveCovered {
    std::string dir, file;
    ~RemoveCovered() {
      ::unlink(file.c_str());
      ::rmdir(dir.c_str());
    }
  } remove_covered{covered, kept};
  auto booted = ipcrt::runtime::boot_resources(plan_with_staging(name));
  CHECK_TRUE_TEXT(booted.has_value(), booted ? "" : booted.error().describe().c_str());
  if (!booted) return;
  CHECK_FALSE_TEXT(path_exists(kept), "covered by the run's tmpfs");

  ipcrt::runtime::release_resources(*booted);
  CHECK_FALSE(ipcrt::platform::is_mount_point(parents.dir + "/staging"));
  CHECK_TRUE_TEXT(path_exists(kept), "the covered directory keeps its file");
}

// A symlink where the staging tmpfs goes is never followed: the boot fails, undoes what it
// made, and leaves the symlink.
TEST(BootShmOwnership, RunWithAStagingSymlinkExitsThreeAndDeletesNothing) {
  ipcrt::test::TempDir dir;
  std::string name = unique_name("br");
  std::string object = unique_name("bro");
  const std::string manifest_dir = "/run/ipcrt/" + name;
  ::mkdir(manifest_dir.c_str(), 0700);
  const std::string link = manifest_dir + "/staging";
  CHECK_EQUAL(0, ::symlink(dir.path().c_str(), link.c_str()));
  ipcrt::test::ShmStoreCleanup store{name};
  auto result =
      ipcrt::test::run_ipcrt({"run", dir.write_file("manifest.json", owner_manifest(name, object))});
  bool object_left = path_exists(ipcrt::test::shm_object(name, object)) || shm_store_mounted(name);
  struct stat info {};
  const bool link_kept = ::lstat(link.c_str(), &info) == 0 && S_ISLNK(info.st_mode);
  ::unlink(link.c_str());
  ::rmdir(manifest_dir.c_str());
  LONGS_EQUAL_TEXT(3, result.exit_code, result.err.c_str());
  CHECK_TEXT(result.err.find("is not a directory (hint: remove it: rm " + link) != std::string::npos,
             result.err.c_str());
  CHECK_TRUE(link_kept);
  CHECK_FALSE_TEXT(object_left, "the object and the store this boot created were rolled back");
}
