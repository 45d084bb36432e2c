// Which shared-memory object a path names, if any.
#include "runtime/mediation/shm_calls.hpp"

namespace ipcrt::runtime {
namespace {

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const auto slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == ".." && !parts.empty()) {
      parts.pop_back();
    } else if (part != "..") {  // ".." of "/" is "/"
      parts.push_back(part);
    }
  }
  return parts;
}

}  // namespace

ObjectPath object_path(const std::vector<MediatedObject>& objects, std::string_view path) {
  ObjectPath found;
  // The last component is the object's name; a trailing slash or a "." or ".." there names a
  // directory, never an object. The cheapest test first: most calls (mkstemp, unlink in
  // another directory) end here.
  const auto slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") return found;
  const MediatedObject* object = nullptr;
  for (const auto& candidate : objects) {
    if (candidate.name == name) object = &candidate;
  }
  if (object == nullptr) return found;
  const std::string_view directory =
      slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash + 1);
  if (!path.starts_with('/')) {
    found.object = object;
    found.relative = true;
    found.directory = std::string(directory);
    return found;
  }
  const auto parts = components(directory);
  if (parts.size() == 2 && parts[0] == "dev" && parts[1] == "shm") found.object = object;
  return found;
}

}  // namespace ipcrt::runtime
