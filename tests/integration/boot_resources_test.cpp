// boot_resources() and its rollback journal on the real kernel, with Plans built by hand.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <mqueue.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

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
using ipcrt::test::unique_name;

namespace {

struct Cleanup {
  std::vector<std::string> queues;
  std::vector<std::string> files;
  ~Cleanup() {
    for (const auto& queue : queues) ::mq_unlink(queue.c_str());
    for (const auto& file : files) ::unlink(file.c_str());
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
  std::string queue_path = "/" + unique_name("bj");
  std::string file = "/dev/shm/" + unique_name("bj");
  std::string dir = "/dev/shm/" + unique_name("bj");
  cleanup.queues.push_back(queue_path);
  cleanup.files.push_back(file);
  mq_attr attributes{};
  attributes.mq_maxmsg = 2;
  attributes.mq_msgsize = 16;
  ::mq_close(::mq_open(queue_path.c_str(), O_CREAT | O_RDWR, 0600, &attributes));
  ::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  ::mkdir(dir.c_str(), 01777);
  ::close(::open((dir + "/placeholder").c_str(), O_CREAT | O_WRONLY, 0600));
  {
    BootJournal journal;
    journal.record(BootJournal::Kind::Queue, queue_path);
    journal.record(BootJournal::Kind::File, file);
    journal.record(BootJournal::Kind::PrivateDir, dir);
    LONGS_EQUAL(3, journal.entries().size());
    journal.rollback();
    LONGS_EQUAL(0, journal.entries().size());
  }
  CHECK_FALSE(queue_exists(queue_path));
  CHECK_FALSE(path_exists(file));
  CHECK_FALSE(path_exists(dir));
}

TEST(BootResources, CreatesQueuesObjectsAndPrivateDirsWithExactModes) {
  Cleanup cleanup;
  std::string name = unique_name("bp");
  Plan plan = plan_with(name);
  plan.queues.push_back(queue("/" + name, 4, true));
  cleanup.queues.push_back("/" + name);
  plan.shm.push_back(shm_object(name, {"svc"}));
  cleanup.files.push_back("/dev/shm/" + name);
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
  // The slot service's uid and the slot's group own both; only the owner may write.
  auto object = file_state("/dev/shm/" + name);
  LONGS_EQUAL(kServiceUid, object.uid);
  LONGS_EQUAL(kSlotGid, object.gid);
  LONGS_EQUAL(0640, object.mode);
  mqd_t created = ::mq_open(("/" + name).c_str(), O_RDONLY);
  CHECK_EQUAL(0, ::fstat(created, &info));
  ::mq_close(created);
  LONGS_EQUAL(kServiceUid, info.st_uid);
  LONGS_EQUAL(kSlotGid, info.st_gid);
  LONGS_EQUAL(0640, info.st_mode & 07777);

  ipcrt::runtime::release_resources(*booted);
  CHECK_FALSE(path_exists(service.shm_dir));
  CHECK_FALSE(queue_exists("/" + name));
  CHECK_TRUE_TEXT(path_exists("/dev/shm/" + name), "objects persist like queues");
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

TEST(BootShmOwnership, ObjectOwnedByAnotherUserOrHardLinkedFailsTheBoot) {
  Cleanup cleanup;
  std::string name = unique_name("bo");
  std::string path = "/dev/shm/" + name;
  cleanup.files.push_back(path);
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

  // Ours, but with a second name elsewhere (a hard link to some other file): refused too.
  CHECK_EQUAL(0, ::chown(path.c_str(), ::geteuid(), ::getegid()));
  std::string second = path + "-link";
  cleanup.files.push_back(second);
  CHECK_EQUAL(0, ::link(path.c_str(), second.c_str()));
  booted = ipcrt::runtime::boot_resources(plan);
  CHECK_FALSE(booted.has_value());
  ::unlink(second.c_str());
  booted = ipcrt::runtime::boot_resources(plan);
  CHECK_TRUE_TEXT(booted.has_value(), booted ? "" : booted.error().describe().c_str());
}

// Every service granted an object has the slot's group: the mode lets exactly them in
// (write only where plugs may write), others get no bit. An adopted object, of the runtime
// before slot groups say, is put back the same way, contents kept.
TEST(BootShmOwnership, ObjectsBelongToTheSlotsGroupAndGiveOthersNothing) {
  Cleanup cleanup;
  std::string name = unique_name("bw");
  std::string shared = "/dev/shm/" + name + "-w";
  std::string read_only = "/dev/shm/" + name + "-r";
  std::string adopted = "/dev/shm/" + name + "-a";
  cleanup.files = {shared, read_only, adopted};
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

TEST(BootShmOwnership, RunWithAPlantedPrivateDirExitsThreeAndDeletesNothing) {
  ipcrt::test::TempDir dir;
  std::string name = unique_name("br");
  std::string object = unique_name("bro");
  PlantedDir planted("/dev/shm/ipcrt." + name + ".owner");
  std::string manifest = "{\"version\": 1, \"name\": \"" + name +
                         "\", \"services\": {\"owner\": {\"command\": [\"" IPCRT_BOOT_PROBE
                         "\", \"exit\", \"0\"], \"slots\": {\"f\": {\"interface\": "
                         "\"shared-memory\", \"write\": [\"" +
                         object + "\"]}}}}}\n";
  auto result = ipcrt::test::run_ipcrt({"run", dir.write_file("manifest.json", manifest)});
  bool object_left = path_exists("/dev/shm/" + object);
  ::unlink(("/dev/shm/" + object).c_str());
  LONGS_EQUAL_TEXT(3, result.exit_code, result.err.c_str());
  CHECK_TEXT(result.err.find("rm -r " + planted.path) != std::string::npos, result.err.c_str());
  CHECK_TRUE(path_exists(planted.path + "/theirs"));
  CHECK_FALSE_TEXT(object_left, "the object this boot created was rolled back");
}
