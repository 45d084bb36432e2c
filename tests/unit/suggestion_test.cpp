// `ipcrt suggest`'s pure half (SPEC §15): the merge patch and its reasons from denials as
// mediation reports them, the needs read exactly as mediation writes them, and what complain
// mode never lets through; plus the advice those needs come from.
#include "runtime/suggestion.hpp"

#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/parser.hpp"
#include "runtime/mediation/decision.hpp"
#include "runtime/mediation/denial_detail.hpp"
#include "runtime/seccomp/complain_limits.hpp"
#include "runtime/seccomp/service_policy.hpp"

using namespace ipcrt::runtime;
using Json = nlohmann::json;

namespace {

const char* const kManifest = R"({
  "version": 1, "name": "sg",
  "services": {
    "hub": {"command": ["/bin/true"],
            "slots": {"telemetry": {"interface": "posix-mq", "path": "/telemetry",
                                    "permissions": ["read"]}}},
    "py": {"command": ["/bin/true"], "plugs": {"telemetry": {"interface": "posix-mq"}},
           "seccomp": {"allow": ["@timer"], "deny": ["getppid", "uname"]},
           "resources": {"queues": 2}},
    "old": {"command": ["/bin/true"], "confinement": "complain"}
  }
})";

ipcrt::config::Manifest manifest() {
  auto parsed = ipcrt::config::parse_manifest(kManifest, "sg.json");
  if (!parsed.manifest) FAIL(parsed.diagnostics.format("sg.json").c_str());
  return *parsed.manifest;
}

SeenDenial seen(std::string service, std::string syscall, std::string need,
                std::string argument = {}) {
  SeenDenial denial;
  denial.service = std::move(service);
  denial.syscall = std::move(syscall);
  denial.need = std::move(need);
  denial.argument = std::move(argument);
  return denial;
}

std::string all(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

RefusedCall refused(std::string_view syscall, std::array<std::uint64_t, 6> args) {
  RefusedCall call;
  call.syscall = syscall;
  call.args = args;
  return call;
}

}  // namespace

TEST_GROUP(Suggestion){};

TEST(Suggestion, NothingRefusedIsAnEmptyPatch) {
  auto parsed = ipcrt::config::parse_manifest(
      R"({"version": 1, "name": "e", "services": {"s": {"command": ["/bin/true"]}}})", "e.json");
  auto suggestion = suggest_patch(*parsed.manifest, {});
  STRCMP_EQUAL("{}\n", suggestion.patch.c_str());
  CHECK_TRUE(suggestion.empty);
  CHECK_TRUE(suggestion.reasons.empty());
}

TEST(Suggestion, ArraysAreGivenWholeWithAReasonPerEntry) {
  auto denial = seen("py", "setpriority", "seccomp.allow: setpriority", "which 0 who 0 nice 5");
  denial.count = 3;
  auto suggestion = suggest_patch(
      manifest(), {denial, seen("py", "socket", "seccomp.allow: socket", "AF_INET SOCK_STREAM"),
                   seen("py", "getppid", "removing it from seccomp.deny"),
                   seen("py", "mq_open", "write on hub:telemetry", "/telemetry"),
                   seen("py", "mq_timedsend", "write on hub:telemetry"),
                   seen("py", "mq_open", "resources.queues: 3", "/cam-1"),
                   seen("py", "mq_open", "resources.queues: 5", "/cam-3"),
                   seen("py", "mq_open", "resources.queue-bytes: 90000", "/cam-3")});
  auto patch = Json::parse(suggestion.patch);
  const Json expected = Json::parse(R"({"services": {
    "hub": {"slots": {"telemetry": {"permissions": ["read", "write"]}}},
    "py": {"seccomp": {"allow": ["@timer", "setpriority", "socket"], "deny": ["uname"]},
           "resources": {"queues": 5, "queue-bytes": 90000}},
    "old": {"confinement": null}}})");
  CHECK_TEXT(patch == expected, suggestion.patch.c_str());
  const std::string reasons = all(suggestion.reasons);
  STRCMP_CONTAINS(
      "/services/py/seccomp/allow: \"setpriority\": denied setpriority arg=\"which 0 who 0 nice "
      "5\" (3 calls)\n",
      reasons.c_str());
  STRCMP_CONTAINS("/services/py/seccomp/deny: without \"getppid\": denied getppid\n",
                  reasons.c_str());
  STRCMP_CONTAINS(
      "/services/hub/slots/telemetry/permissions: \"write\": denied mq_open arg=\"/telemetry\" "
      "in service py (2 calls)\n",
      reasons.c_str());
  STRCMP_CONTAINS("/services/py/resources/queues: 5: denied mq_open", reasons.c_str());
  STRCMP_CONTAINS("/services/old/confinement: null: the manifest says \"complain\"",
                  reasons.c_str());
  LONGS_EQUAL(7, suggestion.reasons.size());
}

// Needs no patch can express are said, not patched; calls programs recover from are not
// patched unless another call needs the same entry.
TEST(Suggestion, WhatNoPatchCanExpressIsSaidAndNotPatched) {
  auto recovered = seen("py", "socket", "seccomp.allow: socket", "AF_UNIX SOCK_STREAM");
  recovered.recoverable = true;
  auto refused_too = seen("py", "unshare", "seccomp.allow: unshare", "CLONE_NEWUSER");
  refused_too.still_refused = complain_refusal("unshare", {CLONE_NEWUSER});
  auto suggestion = suggest_patch(
      manifest(),
      {recovered, refused_too,
       seen("py", "setgroups",
            "set \"user\" (and \"group\") to the account the program switches to"),
       seen("py", "mq_open", "a posix-mq plug connected to a slot with path /x\x1b[2J", "/x"),
       seen("py", "mq_timedreceive", "a posix-mq plug or slot granting it")});
  Json patch = Json::parse(suggestion.patch);
  CHECK_TEXT(patch == Json::parse(R"({"services": {"old": {"confinement": null}}})"),
             suggestion.patch.c_str());
  const std::string reasons = all(suggestion.reasons);
  STRCMP_CONTAINS(
      "/services/py: cannot be patched: unshare arg=\"CLONE_NEWUSER\": a user namespace",
      reasons.c_str());
  STRCMP_CONTAINS("/services/py: cannot be patched: setgroups: need=\"set \"user\"",
                  reasons.c_str());
  // What a service made up reaches the terminal escaped.
  STRCMP_CONTAINS("with path /x\\x1b[2J\"", reasons.c_str());
  STRCMP_CONTAINS("cannot be patched: mq_timedreceive", reasons.c_str());
  STRCMP_CONTAINS("/services/py: not patched: socket arg=\"AF_UNIX SOCK_STREAM\"", reasons.c_str());

  // The same probe beside a socket the service does need: patched once, no note.
  auto both = suggest_patch(manifest(), {recovered, seen("py", "socket", "seccomp.allow: socket",
                                                         "AF_INET SOCK_STREAM")});
  CHECK(Json::parse(both.patch)["services"]["py"]["seccomp"]["allow"] ==
        Json::parse(R"(["@timer", "socket"])"));
  CHECK(all(both.reasons).find("not patched") == std::string::npos);
}

// The needs as mediation writes them are the forms suggest reads: a change of wording there
// fails here.
TEST(Suggestion, TheNeedsMediationWritesAreTheOnesItPatches) {
  const auto loaded = manifest();
  const ipcrt::config::Service& py = *loaded.find_service("py");
  const std::vector<QueueGrant> grants = {
      {"/telemetry", ipcrt::config::kPermRead, "hub:telemetry", false}};
  auto open = decide_mq_open(grants, "telemetry", O_WRONLY);
  CHECK_FALSE(open.allowed);
  const std::vector<SeenDenial> denials = {
      seen("py", "mq_open", open.need, "/telemetry"),
      seen("py", "mq_timedsend", need_for_syscall(py, "mq_timedsend", grants)),
      seen("py", "setpriority",
           advise(refused("setpriority", {0, 0, 5}), need_for_syscall(py, "setpriority")).need),
      seen("py", "getppid", need_for_syscall(py, "getppid"))};
  STRCMP_EQUAL("write on hub:telemetry", need_for_syscall(py, "mq_timedsend", grants).c_str());
  auto suggestion = suggest_patch(loaded, denials);
  const Json patch = Json::parse(suggestion.patch);
  CHECK(patch["services"]["hub"]["slots"]["telemetry"]["permissions"] ==
        Json::parse(R"(["read", "write"])"));
  CHECK(patch["services"]["py"]["seccomp"]["allow"] == Json::parse(R"(["@timer", "setpriority"])"));
  CHECK(patch["services"]["py"]["seccomp"]["deny"] == Json::parse(R"(["uname"])"));
  CHECK(all(suggestion.reasons).find("cannot be patched") == std::string::npos);
}

TEST(Suggestion, ComplainRefusesTheNeverAllowedIoUringAndUserNamespaces) {
  CHECK(!complain_refusal("mount", {}).empty());
  CHECK(!complain_refusal("ptrace", {}).empty());
  CHECK(!complain_refusal("io_uring_setup", {}).empty());
  CHECK(!complain_refusal("clone", {CLONE_NEWUSER | SIGCHLD}).empty());
  CHECK(!complain_refusal("clone3", {}).empty());
  CHECK(complain_refusal("clone", {CLONE_NEWNET | SIGCHLD}).empty());  // EPERM from the kernel
  CHECK(complain_refusal("setpriority", {0, 0, 5}).empty());
  CHECK(complain_refusal("socket", {AF_INET, SOCK_STREAM}).empty());
}

TEST(Suggestion, AdviceForIdsTheCallerHasIsTheSyscallAndForNamespacesNothing) {
  auto own = refused("setresuid", {61200, static_cast<std::uint64_t>(-1), 61200});
  own.caller_ids = std::make_pair(61200U, 61201U);
  STRCMP_EQUAL("seccomp.allow: setresuid", advise(own, "seccomp.allow: setresuid").need.c_str());
  STRCMP_EQUAL("ids 61200 -1 61200", advise(own, "seccomp.allow: setresuid").argument.c_str());
  auto other = refused("setgid", {0});
  other.caller_ids = std::make_pair(61200U, 61201U);
  STRCMP_CONTAINS("set \"user\"", advise(other, "seccomp.allow: setgid").need.c_str());
  auto own_gid = refused("setgid", {61201});
  own_gid.caller_ids = std::make_pair(61200U, 61201U);
  STRCMP_EQUAL("seccomp.allow: setgid", advise(own_gid, "seccomp.allow: setgid").need.c_str());
  // Unknown ids: the capability case, as before.
  STRCMP_CONTAINS("set \"user\"",
                  advise(refused("setuid", {61200}), "seccomp.allow: setuid").need.c_str());
  STRCMP_CONTAINS(
      "nothing a manifest should give",
      advise(refused("clone", {CLONE_NEWUSER | SIGCHLD}), "seccomp.allow: clone").need.c_str());
  STRCMP_CONTAINS(
      "io_uring",
      advise(refused("io_uring_setup", {1}), "seccomp.allow: io_uring_setup").need.c_str());
}

TEST(Suggestion, CollectorCountsKindsAndBoundsThem) {
  DenialCollector collector;
  for (int i = 0; i < 3; ++i) {
    collector.add({"svc", "socket", "AF_INET", "seccomp.allow: socket", false, {}});
  }
  for (std::size_t i = 0; i < DenialCollector::kMaxKinds + 5; ++i) {
    const std::string need = "a posix-mq plug connected to a slot with path /q" + std::to_string(i);
    collector.add({"svc", "mq_open", "/q", need, false, {}});
  }
  const auto denials = collector.denials();
  LONGS_EQUAL(DenialCollector::kMaxKinds, denials.size());
  LONGS_EQUAL(3, denials.front().count);
  STRCMP_EQUAL("AF_INET", denials.front().argument.c_str());
  LONGS_EQUAL(6, collector.dropped());
}
