// The boot planner with manifests, connections and kernel limits built by hand: every limit
// rule of SPEC §3, adopt vs conflict (§4.2), start order (§4.3), grants, environment and the
// JSON of §7.
#include "runtime/plan.hpp"

#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/text.hpp"
#include "runtime/cli/plan_output.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/launch.hpp"

using namespace ipcrt;
using config::Connection;
using config::Interface;
using config::Manifest;
using config::Service;
using config::Slot;
using runtime::KernelState;
using runtime::Plan;

namespace {

Slot mq_slot(const std::string& service, const std::string& name, std::vector<std::string> paths,
             std::optional<long> max_messages = {}, std::optional<long> message_size = {},
             unsigned permissions = config::kPermRead | config::kPermWrite) {
  Slot slot;
  slot.name = name;
  slot.identifier = name;
  slot.interface = Interface::PosixMq;
  config::MqSlot mq;
  mq.paths = std::move(paths);
  mq.max_messages = max_messages;
  mq.message_size = message_size;
  mq.permissions = permissions;
  slot.attributes = mq;
  slot.pointer = cat("/services/", service, "/slots/", name);
  return slot;
}

Slot shm_slot(const std::string& service, const std::string& name, std::vector<std::string> write,
              std::vector<std::string> read) {
  Slot slot;
  slot.name = name;
  slot.identifier = name;
  slot.interface = Interface::SharedMemory;
  auto objects = [](const std::vector<std::string>& names) {
    std::vector<config::ShmObject> list;
    for (const auto& name : names) list.push_back({name, {}, {}, {}});
    return list;
  };
  slot.attributes = config::ShmSlot{objects(read), objects(write)};
  slot.pointer = cat("/services/", service, "/slots/", name);
  return slot;
}

config::Plug plug(const std::string& service, const std::string& name, Interface interface) {
  config::Plug result;
  result.name = name;
  result.identifier = name;
  result.interface = interface;
  result.pointer = cat("/services/", service, "/plugs/", name);
  return result;
}

Service service(const std::string& name, std::vector<Slot> slots = {},
                std::vector<config::Plug> plugs = {}, std::vector<std::string> after = {}) {
  Service result;
  result.name = name;
  result.command = {"/bin/true"};
  result.slots = std::move(slots);
  result.plugs = std::move(plugs);
  result.after = std::move(after);
  result.pointer = "/services/" + name;
  return result;
}

Manifest manifest(std::vector<Service> services) {
  Manifest result;
  result.file = "gateway.json";
  result.name = "gateway";
  result.services = std::move(services);
  return result;
}

Connection connect(const std::string& plug_service, const std::string& plug_name,
                   const std::string& slot_service, const std::string& slot_name,
                   Interface interface = Interface::PosixMq) {
  return Connection{plug_service, plug_name, slot_service, slot_name, interface, true};
}

KernelState kernel() {
  KernelState state;
  state.limits.msg_max = 10;
  state.limits.msgsize_max = 8192;
  state.limits.msg_default = 10;
  state.limits.msgsize_default = 8192;
  state.limits.queues_max = 256;
  state.limits.rlimit_msgqueue_soft = 819200;
  state.limits.rlimit_msgqueue_hard = 819200;
  return state;
}

struct Outcome {
  std::optional<Plan> plan;
  config::Diagnostics diagnostics;
  [[nodiscard]] std::string text() const { return diagnostics.format("gateway.json"); }
};

Outcome plan_of(const Manifest& m, const std::vector<Connection>& connections,
                const KernelState& state) {
  Outcome outcome;
  outcome.plan = runtime::make_plan(m, connections, state, outcome.diagnostics);
  return outcome;
}

// The running kernel's charge for one 10 x 8192 queue, literal per kernel ABI:
// 10 * (msg_msg + posix_msg_tree_node) + 10 * 8192, both structs six kernel words.
const bool kKernel64 = platform::kernel_word_bytes() == 8;
const std::uint64_t kCharge10By8192 = kKernel64 ? 82880 : 82400;  // 48- or 24-byte structs
const std::string kCharge10By8192Text = kKernel64 ? "82880" : "82400";

// One provider with one queue slot "q" of two paths, and one consumer plugging into it.
Manifest provider_and_consumer(std::optional<long> max_messages, std::optional<long> message_size) {
  return manifest(
      {service("hub", {mq_slot("hub", "q", {"/q1", "/q2"}, max_messages, message_size)}),
       service("app", {}, {plug("app", "q", Interface::PosixMq)})});
}

// hub (uid 1000) owns slot "q" (group 3000); app (uid 1001) plugs into it.
runtime::Identities hub_and_app() {
  runtime::Identities identities;
  identities.set_account("hub",
                         {{1000, 1000, {1000, 3000}}, true, "ipcrt-hub", "/state/hub", "/bin/sh"});
  identities.set_account("app",
                         {{1001, 1001, {1001, 3000}}, false, "app", "/home/app", "/bin/dash"});
  identities.set_slot_group("hub:q", 3000);
  return identities;
}

}  // namespace

TEST_GROUP(PlanLimits){};

TEST(PlanLimits, EveryLimitRuleNamesQueueValueLimitAndFix) {
  struct Case {
    const char* what;
    std::optional<long> max_messages;
    std::optional<long> message_size;
    void (*adjust)(KernelState&);
    std::string expected;  // a line of the formatted diagnostics, or "" for no error
  };
  const Case cases[] = {
      {"within limits", 10, 8192, [](KernelState&) {}, ""},
      {"max-messages above msg_max", 11, 100, [](KernelState&) {},
       "gateway.json: /services/hub/slots/q/max-messages: error: queue /q1: max-messages 11 "
       "exceeds fs.mqueue.msg_max (10); raise fs.mqueue.msg_max in the board profile's mqueue "
       "values, or lower max-messages\n"},
      {"message-size above msgsize_max", 2, 8193, [](KernelState&) {},
       "gateway.json: /services/hub/slots/q/message-size: error: queue /q2: message-size 8193 "
       "exceeds fs.mqueue.msgsize_max (8192); raise fs.mqueue.msgsize_max in the board profile's "
       "mqueue values, or lower message-size\n"},
      {"queues_max with existing queues", 1, 1,
       [](KernelState& k) {
         k.limits.queues_max = 2;
         k.existing_queues.push_back({"/other", 1, 1, 12345});
       },
       "gateway.json: /services/hub/slots/q/path/1: error: queue /q2: creating it would make 3 "
       "queues (1 exist already), above fs.mqueue.queues_max (2); raise fs.mqueue.queues_max in "
       "the board profile's mqueue values, or remove unused queues from /dev/mqueue\n"},
      {"RLIMIT_MSGQUEUE", 10, 8192, [](KernelState& k) { k.limits.rlimit_msgqueue_soft = 100000; },
       "/services/hub/slots/q/path/1: error: queue /q2: its " + kCharge10By8192Text +
           " bytes bring the total charged to uid"},
      {"RLIMIT_MSGQUEUE counts existing queues of our uid", 10, 8192,
       [](KernelState& k) {
         k.limits.rlimit_msgqueue_soft = 3 * kCharge10By8192 - 1;
         k.existing_queues.push_back({"/mine", 10, 8192, ::getuid()});
       },
       "/services/hub/slots/q/path/1: error: queue /q2: its " + kCharge10By8192Text +
           " bytes bring the total charged to uid"},
      {"privileged runtime raises RLIMIT_MSGQUEUE", 10, 8192,
       [](KernelState& k) {
         k.limits.rlimit_msgqueue_soft = k.limits.rlimit_msgqueue_hard = 1000;
         k.privileged = true;
       },
       ""},
  };
  for (const auto& c : cases) {
    KernelState state = kernel();
    c.adjust(state);
    auto outcome = plan_of(provider_and_consumer(c.max_messages, c.message_size),
                           {connect("app", "q", "hub", "q")}, state);
    const std::string text = outcome.text();
    if (c.expected.empty()) {
      CHECK_TEXT(outcome.plan.has_value(), cat(c.what, ": ", text).c_str());
    } else {
      CHECK_FALSE_TEXT(outcome.plan.has_value(), c.what);
      CHECK_TEXT(text.find(c.expected) != std::string::npos, cat(c.what, ":\n", text).c_str());
    }
  }
}

TEST(PlanLimits, ChargeIsTheKernelFormulaPerQueueToCreate) {
  auto outcome = plan_of(provider_and_consumer(10, 8192), {}, kernel());
  CHECK_TRUE(outcome.plan.has_value());
  const auto per_queue = platform::queue_charge_bytes(10, 8192);
  UNSIGNED_LONGLONGS_EQUAL(per_queue, outcome.plan->queues[0].charged_bytes);
  UNSIGNED_LONGLONGS_EQUAL(2 * per_queue, outcome.plan->charged_bytes);
  UNSIGNED_LONGLONGS_EQUAL(2 * per_queue, outcome.plan->rlimit_msgqueue_needed);
}

TEST(PlanLimits, PrivilegedRuntimeWithALowHardLimitIsWarned) {
  KernelState state = kernel();
  state.privileged = true;
  state.limits.rlimit_msgqueue_soft = state.limits.rlimit_msgqueue_hard = 1000;
  auto outcome = plan_of(provider_and_consumer(10, 8192), {}, state);
  CHECK_TRUE(outcome.plan.has_value());
  LONGS_EQUAL(1, outcome.plan->warnings.size());
  STRCMP_CONTAINS("RLIMIT_MSGQUEUE hard limit 1000", outcome.plan->warnings[0].c_str());
  STRCMP_CONTAINS("warning: RLIMIT_MSGQUEUE", outcome.text().c_str());
}

TEST(PlanLimits, DefaultsAreTheKernelsCappedAtMsgMax) {
  KernelState state = kernel();
  state.limits.msg_default = 50;  // the kernel caps a new queue's default at msg_max
  state.limits.msgsize_default = 1024;
  auto outcome = plan_of(provider_and_consumer({}, {}), {}, state);
  CHECK_TRUE(outcome.plan.has_value());
  LONGS_EQUAL(10, outcome.plan->queues[0].max_messages);
  LONGS_EQUAL(1024, outcome.plan->queues[0].message_size);
}

TEST(PlanLimits, PatternsAreGrantedButNeverCreatedNorCharged) {
  auto m = manifest({service("cam", {mq_slot("cam", "frames", {"/camera-*"}, 5, 100)}),
                     service("app", {}, {plug("app", "frames", Interface::PosixMq)})});
  auto outcome = plan_of(m, {connect("app", "frames", "cam", "frames")}, kernel());
  CHECK_TRUE(outcome.plan.has_value());
  CHECK_FALSE(outcome.plan->queues[0].create);
  UNSIGNED_LONGLONGS_EQUAL(0, outcome.plan->charged_bytes);
  const auto* app = outcome.plan->find_service("app");
  CHECK_TRUE(app != nullptr);
  STRCMP_EQUAL("/camera-*", app->queues.at(0).path.c_str());
}

TEST_GROUP(PlanExisting){};

TEST(PlanExisting, EqualAttributesAreAdoptedAndNotCharged) {
  KernelState state = kernel();
  state.existing_queues.push_back({"/q1", 4, 64, 0});
  auto outcome = plan_of(provider_and_consumer(4, 64), {}, state);
  CHECK_TRUE(outcome.plan.has_value());
  CHECK_TRUE(outcome.plan->queues[0].adopt);
  UNSIGNED_LONGLONGS_EQUAL(0, outcome.plan->queues[0].charged_bytes);
  CHECK_FALSE(outcome.plan->queues[1].adopt);
  UNSIGNED_LONGLONGS_EQUAL(platform::queue_charge_bytes(4, 64), outcome.plan->charged_bytes);
}

TEST(PlanExisting, DifferentAttributesAreAnErrorWithBothSetsAndTheFix) {
  KernelState state = kernel();
  state.existing_queues.push_back({"/q2", 8, 64, 0});
  auto outcome = plan_of(provider_and_consumer(4, 64), {}, state);
  CHECK_FALSE(outcome.plan.has_value());
  STRCMP_EQUAL(
      "gateway.json: /services/hub/slots/q/path/1: error: queue /q2 already exists with "
      "max-messages 8, message-size 64 but the manifest wants max-messages 4, message-size 64; "
      "remove it (rm /dev/mqueue/q2, losing its messages) or change the manifest to match\n",
      outcome.text().c_str());
}

// Anyone may create a queue before boot: one owned by another user is refused (SPEC §4.2's
// adoption keeps messages, so it keeps theirs). Owned by the slot's user or by root, it is
// adopted and its group and mode are put back at boot.
TEST(PlanExisting, QueueOfAnotherOwnerIsAnErrorAndTheOwnersQueueIsAdoptedForRepair) {
  const runtime::Identities identities = hub_and_app();
  struct Case {
    const char* what;
    uid_t uid;
    gid_t gid;
    mode_t mode;
    bool repair;
    const char* found;  // nullptr: adopted; else the refusal shows it
  };
  const Case cases[] = {
      {"the manifest's owner, group and mode", 1000, 3000, 0660, false, nullptr},
      {"narrower mode", 1000, 3000, 0600, true, nullptr},
      {"world-writable", 1000, 3000, 0666, true, nullptr},
      {"setgid bit", 1000, 3000, 02660, true, nullptr},
      {"another group", 1000, 2000, 0660, true, nullptr},
      {"root's, from an earlier runtime", 0, 0, 0644, true, nullptr},
      {"another owner", 2000, 3000, 0660, false, "uid 2000, gid 3000, mode 0660"},
      {"the consumer's uid", 1001, 3000, 0600, false, "uid 1001, gid 3000, mode 0600"},
  };
  for (const auto& c : cases) {
    KernelState state = kernel();
    runtime::ExistingQueue existing{"/q1", 4, 64, c.uid};
    existing.owner_gid = c.gid;
    existing.mode = c.mode;
    state.existing_queues.push_back(existing);
    Outcome outcome;
    outcome.plan = runtime::make_plan(provider_and_consumer(4, 64), {}, state, outcome.diagnostics,
                                      &identities);
    if (c.found == nullptr) {
      CHECK_TRUE_TEXT(outcome.plan.has_value(), (c.what + outcome.text()).c_str());
      CHECK_TRUE_TEXT(outcome.plan->queues[0].adopt, c.what);
      CHECK_EQUAL_TEXT(c.repair, outcome.plan->queues[0].repair, c.what);
      continue;
    }
    CHECK_FALSE_TEXT(outcome.plan.has_value(), c.what);
    STRCMP_CONTAINS_TEXT(cat("gateway.json: /services/hub/slots/q/path/0: error: queue /q1 "
                             "already exists with owner ",
                             c.found, ", but slot hub:q needs")
                             .c_str(),
                         outcome.text().c_str(), c.what);
    STRCMP_CONTAINS_TEXT(
        "needs owner uid 1000 (service hub), gid 3000, mode 0660: another user "
        "owns it",
        outcome.text().c_str(), c.what);
    STRCMP_CONTAINS_TEXT("remove it (rm /dev/mqueue/q1) and run again: the runtime will create it",
                         outcome.text().c_str(), c.what);
  }
  // Without identities (`policy`) only the attributes are compared.
  KernelState state = kernel();
  state.existing_queues.push_back({"/q1", 4, 64, 2000, 2000, 0666});
  auto unchecked = plan_of(provider_and_consumer(4, 64), {}, state);
  CHECK_TRUE(unchecked.plan.has_value());
  CHECK_TRUE(unchecked.plan->queues[0].adopt);
}

TEST(PlanExisting, OwnerIsCheckedBeforeAttributesAndUnreadableQueuesStayAttributeErrors) {
  const runtime::Identities identities = hub_and_app();
  KernelState state = kernel();
  state.existing_queues.push_back({"/q1", 8, 64, 2000, 2000, 0666});
  // The runtime could not open it: nothing about it is known.
  state.existing_queues.push_back({"/q2", 0, 0, static_cast<uid_t>(-1)});
  Outcome outcome;
  outcome.plan =
      runtime::make_plan(provider_and_consumer(4, 64), {}, state, outcome.diagnostics, &identities);
  CHECK_FALSE(outcome.plan.has_value());
  STRCMP_CONTAINS("queue /q1 already exists with owner uid 2000", outcome.text().c_str());
  CHECK(outcome.text().find("queue /q1 already exists with max-messages") == std::string::npos);
  STRCMP_CONTAINS("queue /q2 already exists with attributes the runtime cannot read",
                  outcome.text().c_str());
}

TEST_GROUP(PlanStartOrder){};

TEST(PlanStartOrder, ProvidersAndAfterComeFirstTiesInDocumentOrder) {
  auto m = manifest({service("consumer", {}, {plug("consumer", "q", Interface::PosixMq)}),
                     service("logger", {}, {}, {"late"}),
                     service("provider", {mq_slot("provider", "q", {"/q"})}), service("late"),
                     service("idle")});
  auto outcome = plan_of(m, {connect("consumer", "q", "provider", "q")}, kernel());
  CHECK_TEXT(outcome.plan.has_value(), outcome.text().c_str());
  std::vector<std::string> order;
  for (const auto& planned : outcome.plan->services) order.push_back(planned.name);
  STRCMP_EQUAL("provider,consumer,late,logger,idle", join(order, ",").c_str());
  LONGS_EQUAL(1, outcome.plan->find_service("consumer")->start_order);
}

TEST(PlanStartOrder, AfterCycleIsAnErrorNamingTheCycle) {
  auto m = manifest(
      {service("a", {}, {}, {"b"}), service("b", {}, {}, {"c"}), service("c", {}, {}, {"b"})});
  auto outcome = plan_of(m, {}, kernel());
  CHECK_FALSE(outcome.plan.has_value());
  STRCMP_EQUAL(
      "gateway.json: /services/b/after: error: start order has a cycle: b -> c -> b (each waits "
      "for the next through `after`) (hint: remove one `after` entry)\n",
      outcome.text().c_str());
}

TEST(PlanStartOrder, MutualProvidersStartInDocumentOrderWithAWarning) {
  auto m = manifest(
      {service("a", {mq_slot("a", "to-b", {"/to-b"})}, {plug("a", "to-a", Interface::PosixMq)}),
       service("b", {mq_slot("b", "to-a", {"/to-a"})}, {plug("b", "to-b", Interface::PosixMq)})});
  auto outcome =
      plan_of(m, {connect("a", "to-a", "b", "to-a"), connect("b", "to-b", "a", "to-b")}, kernel());
  CHECK_TRUE(outcome.plan.has_value());
  STRCMP_EQUAL("a", outcome.plan->services[0].name.c_str());
  LONGS_EQUAL(1, outcome.plan->warnings.size());
  STRCMP_CONTAINS("provide slots to each other", outcome.plan->warnings[0].c_str());
}

TEST_GROUP(PlanGrants){};

TEST(PlanGrants, OwnerGetsEverythingPlugGetsTheSlotsPermissions) {
  auto m = manifest({service("hub", {mq_slot("hub", "q", {"/q1"}, 2, 16, config::kPermRead)}),
                     service("app", {}, {plug("app", "q", Interface::PosixMq)})});
  auto outcome = plan_of(m, {connect("app", "q", "hub", "q")}, kernel());
  CHECK_TRUE(outcome.plan.has_value());
  const auto& hub = outcome.plan->find_service("hub")->queues.at(0);
  LONGS_EQUAL(config::kPermAll, hub.permissions);
  CHECK_TRUE(hub.owner);
  const auto& app = outcome.plan->find_service("app")->queues.at(0);
  LONGS_EQUAL(config::kPermRead, app.permissions);
  CHECK_FALSE(app.owner);
  STRCMP_EQUAL("hub:q", app.via.c_str());
}

TEST(PlanGrants, SharedMemoryReadersWritersAndPrivateDirs) {
  auto m = manifest({service("cam", {shm_slot("cam", "frames", {"frames"}, {"config"})}),
                     service("viewer", {}, {plug("viewer", "frames", Interface::SharedMemory)}),
                     service("debug")});
  m.services[2].confinement = config::Confinement::Off;
  auto outcome =
      plan_of(m, {connect("viewer", "frames", "cam", "frames", Interface::SharedMemory)}, kernel());
  CHECK_TRUE(outcome.plan.has_value());
  const auto& objects = outcome.plan->shm;
  LONGS_EQUAL(2, objects.size());
  STRCMP_EQUAL("frames", objects[0].name.c_str());
  STRCMP_EQUAL("cam,viewer", join(objects[0].writers, ",").c_str());
  LONGS_EQUAL(0, objects[0].readers.size());
  STRCMP_EQUAL("config", objects[1].name.c_str());
  STRCMP_EQUAL("cam", join(objects[1].writers, ",").c_str());
  STRCMP_EQUAL("viewer", join(objects[1].readers, ",").c_str());
  const auto* viewer = outcome.plan->find_service("viewer");
  STRCMP_EQUAL("/run/ipcrt/gateway/staging/viewer", viewer->shm_dir.c_str());
  CHECK_TRUE(viewer->shm.at(0).writable);
  CHECK_FALSE(viewer->shm.at(1).writable);
  STRCMP_EQUAL("", outcome.plan->find_service("debug")->shm_dir.c_str());
  // The objects live on the runtime's own tmpfs (SPEC §4.2), sized to what is declared (no
  // sizes here) plus the margin, and every service binds them from there.
  STRCMP_EQUAL("/run/ipcrt/gateway/shm", outcome.plan->shm_store.c_str());
  CHECK_EQUAL(ipcrt::runtime::kShmStoreMargin, outcome.plan->shm_store_bytes);
  STRCMP_EQUAL("/run/ipcrt/gateway/shm", viewer->shm_store.c_str());
}

TEST(PlanGrants, TheShmStoreHoldsEverySizedObjectPageByPageAndTheMargin) {
  std::vector<ipcrt::runtime::PlannedShmObject> objects(4);
  objects[0].size = 1;
  objects[1].size = 2 * 4096 + 1;
  objects[2].semaphore_value = 3;  // one page whatever sem_t's size
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const auto pages = [&](std::uint64_t bytes) { return (bytes + page - 1) / page * page; };
  CHECK_EQUAL(ipcrt::runtime::kShmStoreMargin + pages(1) + pages(8193) + page,
              ipcrt::runtime::shm_store_bytes(objects));
  objects[3].size = std::numeric_limits<std::int64_t>::max();
  objects.push_back(objects[3]);
  CHECK_EQUAL(UINT64_MAX, ipcrt::runtime::shm_store_bytes(objects));  // saturates
}

// A pid namespace keeps a same-user neighbour out of a confined service's /proc, but not an
// unconfined one, which sees the host's.
TEST(PlanGrants, AnUnconfinedServiceSharingAConfinedOnesUserIsWarned) {
  auto m = provider_and_consumer(4, 64);
  m.services[1].confinement = config::Confinement::Off;
  auto shared = hub_and_app();
  shared.set_account("app", {{1000, 1000, {1000, 3000}}, false, "hub", "/", "/bin/sh"});
  for (const auto& [identities, warned] :
       {std::pair{hub_and_app(), false}, std::pair{shared, true}}) {
    config::Diagnostics diagnostics;
    auto plan = runtime::make_plan(m, {}, kernel(), diagnostics, &identities);
    CHECK_TRUE(plan.has_value());
    const std::string text = diagnostics.format("gateway.json");
    CHECK_EQUAL_TEXT(warned,
                     text.find("services app (confinement off) and hub run as the same user "
                               "(uid 1000): app can reach hub's processes through /proc") !=
                         std::string::npos,
                     text.c_str());
  }
}

TEST(PlanGrants, AServiceWithConfinementOffIsWarnedThatItCannotSeeItsObjects) {
  auto m = manifest({service("cam", {shm_slot("cam", "frames", {"frames"}, {})}),
                     service("debug", {}, {plug("debug", "frames", Interface::SharedMemory)})});
  m.services[1].confinement = config::Confinement::Off;
  auto outcome =
      plan_of(m, {connect("debug", "frames", "cam", "frames", Interface::SharedMemory)}, kernel());
  CHECK_TRUE(outcome.plan.has_value());
  LONGS_EQUAL(1, outcome.plan->warnings.size());
  STRCMP_CONTAINS("service debug has confinement off: its /dev/shm is the host's",
                  outcome.plan->warnings[0].c_str());
}

TEST(PlanGrants, EnvironmentNamesEverySlotAndConnectedPlug) {
  auto m = manifest(
      {service("hub", {mq_slot("hub", "sensor-data", {"/a", "/b"}), mq_slot("hub", "both", {"/s"})},
               {plug("hub", "both", Interface::PosixMq)}),
       service("other", {mq_slot("other", "both", {"/o"})}),
       service("app", {},
               {plug("app", "sensor-data", Interface::PosixMq),
                plug("app", "loose", Interface::PosixMq)})});
  auto outcome = plan_of(m,
                         {connect("app", "sensor-data", "hub", "sensor-data"),
                          connect("hub", "both", "other", "both")},
                         kernel());
  CHECK_TRUE(outcome.plan.has_value());
  auto environment = [&](const std::string& name) {
    std::vector<std::string> entries;
    for (const auto& [key, value] : outcome.plan->find_service(name)->environment) {
      entries.push_back(key + "=" + value);
    }
    return join(entries, " ");
  };
  STRCMP_EQUAL("IPCRT_SERVICE=hub IPCRT_SENSOR_DATA_PATHS=/a:/b IPCRT_BOTH_PATHS=/s:/o",
               environment("hub").c_str());
  STRCMP_EQUAL("IPCRT_SERVICE=app IPCRT_SENSOR_DATA_PATHS=/a:/b", environment("app").c_str());
}

// SPEC §4.3: HOME, USER, LOGNAME and SHELL of the service's account, after the runtime's
// IPCRT_* variables, each unless the manifest sets it.
TEST(PlanGrants, AccountVariablesComeFromTheAccountUnlessTheManifestSetsThem) {
  auto m = provider_and_consumer(4, 64);
  m.services[1].environment = {{"HOME", "/srv/app"}, {"LOG_LEVEL", "debug"}};
  const runtime::Identities identities = hub_and_app();
  Outcome outcome;
  outcome.plan = runtime::make_plan(m, {connect("app", "q", "hub", "q")}, kernel(),
                                    outcome.diagnostics, &identities);
  CHECK_TRUE_TEXT(outcome.plan.has_value(), outcome.text().c_str());
  auto environment = [&](const std::string& name) {
    std::vector<std::string> entries;
    for (const auto& [key, value] : outcome.plan->find_service(name)->environment) {
      entries.push_back(key + "=" + value);
    }
    return join(entries, " ");
  };
  STRCMP_EQUAL(
      "IPCRT_SERVICE=hub IPCRT_Q_PATHS=/q1:/q2 HOME=/state/hub USER=ipcrt-hub LOGNAME=ipcrt-hub "
      "SHELL=/bin/sh",
      environment("hub").c_str());
  STRCMP_EQUAL("IPCRT_SERVICE=app IPCRT_Q_PATHS=/q1:/q2 USER=app LOGNAME=app SHELL=/bin/dash",
               environment("app").c_str());
}

TEST_GROUP(PlanJson){};

// pass-queues (SPEC §11): each declared path once, in grant order, fds from 3, with the access
// the grants give; patterns and create=false queues are opened by name; the variables.
TEST(PlanGrants, PassQueuesPassesDeclaredQueuesInGrantOrder) {
  Slot spare = mq_slot("hub", "spare", {"/spare"});
  std::get<config::MqSlot>(spare.attributes).create = false;
  auto app =
      service("app", {},
              {plug("app", "in", Interface::PosixMq), plug("app", "out", Interface::PosixMq),
               plug("app", "cam", Interface::PosixMq), plug("app", "spare", Interface::PosixMq)});
  app.pass_queues = true;
  auto hub = service("hub", {mq_slot("hub", "in", {"/in1", "/in2"}, 2, 16, config::kPermRead),
                             mq_slot("hub", "out", {"/out"}, 2, 16, config::kPermWrite),
                             mq_slot("hub", "cam", {"/cam-*"}, 2, 16, config::kPermCreate), spare});
  hub.pass_queues = true;
  auto m = manifest({hub, app});
  auto outcome =
      plan_of(m,
              {connect("app", "in", "hub", "in"), connect("app", "out", "hub", "out"),
               connect("app", "cam", "hub", "cam"), connect("app", "spare", "hub", "spare")},
              kernel());
  CHECK_TEXT(outcome.plan.has_value(), outcome.text().c_str());
  const auto* planned = outcome.plan->find_service("app");
  LONGS_EQUAL(3, planned->passed_queues.size());
  const std::pair<const char*, int> expected[] = {
      {"/in1", O_RDONLY}, {"/in2", O_RDONLY}, {"/out", O_WRONLY}};
  for (int i = 0; i < 3; ++i) {
    LONGS_EQUAL(3 + i, planned->passed_queues[i].fd);
    STRCMP_EQUAL(expected[i].first, planned->passed_queues[i].path.c_str());
    LONGS_EQUAL(expected[i].second, planned->passed_queues[i].access);
  }
  auto variable = [&](const runtime::PlannedService& s, const std::string& key) {
    for (const auto& [name, value] : s.environment) {
      if (name == key) return value;
    }
    return std::string("(unset)");
  };
  // The launch's variables, as the other protocols' (NOTIFY_SOCKET): not the plan's.
  STRCMP_EQUAL("(unset)", variable(*planned, "LISTEN_FDS").c_str());
  auto launch_variable = [](const runtime::LaunchSpec& spec, const std::string& key) {
    for (const auto& entry : spec.environment) {
      if (entry.starts_with(key + "=")) return entry.substr(key.size() + 1);
    }
    return std::string("(unset)");
  };
  const auto spec = runtime::prepare_launch(app, *planned, {}, {});
  STRCMP_EQUAL("3", launch_variable(spec, "LISTEN_FDS").c_str());
  STRCMP_EQUAL("in1:in2:out", launch_variable(spec, "LISTEN_FDNAMES").c_str());
  STRCMP_EQUAL("0", launch_variable(spec, "LISTEN_PID").c_str());  // the child writes it
  LONGS_EQUAL(3, spec.passed_queues.size());
  LONGS_EQUAL(6, runtime::descriptor_floor(spec));
  // The owner: read-write on every declared queue it creates.
  const auto* owner = outcome.plan->find_service("hub");
  LONGS_EQUAL(3, owner->passed_queues.size());
  LONGS_EQUAL(O_RDWR, owner->passed_queues[2].access);
  CHECK_TRUE(runtime::passed_queue(*owner, "/cam-*") == nullptr);
  CHECK_TRUE(runtime::passed_queue(*owner, "/spare") == nullptr);
  // A grant of neither read nor write passes nothing: an O_RDONLY descriptor would be
  // readable through another grant's mq_timedreceive.
  auto lister = service("lister", {}, {plug("lister", "none", Interface::PosixMq),
                                       plug("lister", "in", Interface::PosixMq)});
  lister.pass_queues = true;
  auto listing = plan_of(
      manifest({service("hub", {mq_slot("hub", "none", {"/none"}, 2, 16, config::kPermCreate),
                                mq_slot("hub", "in", {"/in1"}, 2, 16, config::kPermRead)}),
                lister}),
      {connect("lister", "none", "hub", "none"), connect("lister", "in", "hub", "in")}, kernel());
  const auto& passed = listing.plan->find_service("lister")->passed_queues;
  LONGS_EQUAL(1, passed.size());
  STRCMP_EQUAL("/in1", passed[0].path.c_str());
  LONGS_EQUAL(3, passed[0].fd);
  // Without pass-queues nothing is passed.
  app.pass_queues = false;
  auto plain = plan_of(manifest({service("hub", {mq_slot("hub", "in", {"/in1"})}), app}),
                       {connect("app", "in", "hub", "in")}, kernel());
  CHECK_TRUE(plain.plan->find_service("app")->passed_queues.empty());
  const auto plain_spec = runtime::prepare_launch(app, *plain.plan->find_service("app"), {}, {});
  STRCMP_EQUAL("(unset)", launch_variable(plain_spec, "LISTEN_FDS").c_str());
  STRCMP_EQUAL("(unset)", launch_variable(plain_spec, "LISTEN_PID").c_str());
  LONGS_EQUAL(3, runtime::descriptor_floor(plain_spec));
}

TEST(PlanGrants, PassQueuesWithOnlyPatternsIsWarned) {
  auto app = service("app", {}, {plug("app", "cam", Interface::PosixMq)});
  app.pass_queues = true;
  auto m = manifest({service("hub", {mq_slot("hub", "cam", {"/cam-*"})}), app});
  auto outcome = plan_of(m, {connect("app", "cam", "hub", "cam")}, kernel());
  CHECK_TRUE(outcome.plan.has_value());
  CHECK_TEXT(outcome.text().find("none of its queues can be passed") != std::string::npos,
             outcome.text().c_str());
}

TEST(PlanJson, HasTheShapeOfSpecSection7) {
  auto m = manifest({service("cam", {mq_slot("cam", "q", {"/q"}, 4, 64),
                                     shm_slot("cam", "frames", {"frames"}, {})}),
                     service("app", {},
                             {plug("app", "q", Interface::PosixMq),
                              plug("app", "frames", Interface::SharedMemory)})});
  runtime::Identities identities;
  identities.set_account("cam", {{1000, 44, {44, 3000, 3001}}, false, "sensor", "/", "/bin/sh"});
  identities.set_account("app", {{61300, 61300, {61300, 3000, 3001}},
                                 true,
                                 "ipcrt-app",
                                 "/var/lib/ipcrt/gateway/app",
                                 "/bin/sh"});
  identities.set_slot_group("cam:q", 3000);
  identities.set_slot_group("cam:frames", 3001);
  Outcome outcome;
  outcome.plan =
      runtime::make_plan(m,
                         {connect("app", "q", "cam", "q"),
                          connect("app", "frames", "cam", "frames", Interface::SharedMemory)},
                         kernel(), outcome.diagnostics, &identities);
  CHECK_TRUE(outcome.plan.has_value());
  auto json = nlohmann::ordered_json::parse(runtime::render_plan_json(*outcome.plan));
  std::vector<std::string> keys;
  for (const auto& item : json.items()) keys.push_back(item.key());
  STRCMP_EQUAL("queues,shm,private-shm,connections,services,warnings", join(keys, ",").c_str());
  STRCMP_EQUAL(
      R"({"path":"/q","max-messages":4,"message-size":64,"mode":"0660","owner":"1000:3000","slot":"cam:q"})",
      json["queues"][0].dump().c_str());
  STRCMP_EQUAL(R"({"name":"frames","slot":"cam:frames","readers":[],"writers":["cam","app"]})",
               json["shm"][0].dump().c_str());
  STRCMP_EQUAL(R"({"service":"cam","dir":"/run/ipcrt/gateway/staging/cam"})",
               json["private-shm"][0].dump().c_str());
  STRCMP_EQUAL(R"({"plug":"app:q","slot":"cam:q","interface":"posix-mq","auto":true})",
               json["connections"][0].dump().c_str());
  STRCMP_EQUAL(
      R"({"name":"app","start-order":1,"uid":61300,"gid":61300,"type":"simple","queues":{"/q":["read","write"]},)"
      R"("command":["/bin/true"],)"
      R"("environment":{"IPCRT_SERVICE":"app","IPCRT_Q_PATHS":"/q","IPCRT_FRAMES_PATHS":"frames",)"
      R"("HOME":"/var/lib/ipcrt/gateway/app","USER":"ipcrt-app","LOGNAME":"ipcrt-app",)"
      R"("SHELL":"/bin/sh"},"view":[]})",
      json["services"][1].dump().c_str());
  CHECK_TRUE(json["warnings"].is_array());
}

// `policy` plans without identities: nothing says who would own what.
TEST(PlanJson, OwnerAndIdsAreNullWithoutIdentities) {
  auto outcome = plan_of(provider_and_consumer(1, 1), {}, kernel());
  CHECK_TRUE(outcome.plan.has_value());
  auto json = nlohmann::ordered_json::parse(runtime::render_plan_json(*outcome.plan));
  CHECK_TRUE(json["queues"][0]["owner"].is_null());
  CHECK_TRUE(json["services"][0]["uid"].is_null());
  CHECK_TRUE(json["services"][0]["gid"].is_null());
}

TEST_GROUP(PlanWritablePaths){};

// SPEC §4a: at plan, writable paths must exist on this machine and reach none of the runtime's
// own files there (its state root, binary, boards, the manifest), symlinks resolved.
TEST(PlanWritablePaths, MustExistAndReachNoneOfTheRuntimesFilesOnThisMachine) {
  Service app = service("app");
  const std::vector<std::string> paths = {"/srv/data", "/srv/missing", "/opt/ipcrt",
                                          "/srv/boards-link", "/srv/gw",
                                          "/state/gateway/app/cache", "/state/gateway/hub"};
  for (std::size_t i = 0; i < paths.size(); ++i) {
    app.writable_paths.push_back({paths[i], cat("/services/app/writable-paths/", i)});
  }
  Manifest m = manifest({app, service("hub")});
  m.file = "/srv/gw/gateway.json";
  KernelState state = kernel();
  state.host.state_root = "/state";
  state.host.protected_paths = {{"/opt/ipcrt/bin/ipcrt", "the ipcrt binary"},
                                {"/usr/share/ipcrt/boards", "a boards directory"}};
  state.host.resolve = [](const std::string& path) -> std::optional<std::string> {
    if (path == "/srv/missing") return std::nullopt;
    if (path == "/srv/boards-link") return std::string("/usr/share/ipcrt/boards/qemu");
    return path;
  };
  auto outcome = plan_of(m, {}, state);
  CHECK_FALSE(outcome.plan.has_value());
  STRCMP_EQUAL(
      "gateway.json: /services/app/writable-paths/1: error: writable path \"/srv/missing\" does "
      "not exist on this device (hint: create it before the service starts (it is bound into the "
      "service's view as it is), or remove it)\n"
      "gateway.json: /services/app/writable-paths/2: error: writable path \"/opt/ipcrt\" contains "
      "the ipcrt binary (/opt/ipcrt/bin/ipcrt) (hint: a service may not write the runtime's own "
      "files: name a directory of the service's own)\n"
      "gateway.json: /services/app/writable-paths/3: error: writable path \"/srv/boards-link\" "
      "(resolved: \"/usr/share/ipcrt/boards/qemu\") lies inside a boards directory "
      "(/usr/share/ipcrt/boards) (hint: a service may not write the runtime's own files: name a "
      "directory of the service's own)\n"
      "gateway.json: /services/app/writable-paths/4: error: writable path \"/srv/gw\" contains "
      "the manifest (/srv/gw/gateway.json) (hint: a service may not write the runtime's own "
      "files: name a directory of the service's own)\n"
      "gateway.json: /services/app/writable-paths/6: error: writable path \"/state/gateway/hub\" "
      "lies inside the runtime's state (/state) (hint: its own state directory, "
      "/state/gateway/app, is writable already (\"state-directory\"))\n",
      outcome.text().c_str());

  // Without a resolver (a machine-independent plan), the paths are checked as written.
  Service fine = service("app");
  fine.writable_paths.push_back({"/srv/anything", "/services/app/writable-paths/0"});
  CHECK(plan_of(manifest({fine}), {}, kernel()).plan.has_value());
}

TEST_GROUP(KernelStateCapabilities){};

TEST(KernelStateCapabilities, CapSysResourceIsBit24OfCapEff) {
  CHECK_TRUE(runtime::has_cap_sys_resource("Name:\tx\nCapPrm:\t0\nCapEff:\t0000000001000000\n"));
  CHECK_FALSE(runtime::has_cap_sys_resource(
      "Name:\tx\nCapPrm:\t0000000001000000\nCapEff:\t000001fffeffffff\n"));
  CHECK_FALSE(runtime::has_cap_sys_resource("Name:\tx\n"));
}
