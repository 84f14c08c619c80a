#include "service/reflection/reflection_service.h"

#include <deque>
#include <utility>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace dcr::reflection {

namespace pb = google::protobuf;

class ReflectionIndex {
 public:
  static absl::StatusOr<std::shared_ptr<const ReflectionIndex>> Build(
      absl::string_view descriptor_set, std::vector<std::string> services);

  const pb::DescriptorPool& pool() const { return pool_; }
  const std::vector<std::string>& services() const { return services_; }

  // The serialized FileDescriptorProto (with source info) of a file of the pool.
  const std::string& FileBytes(const pb::FileDescriptor* file) const {
    return files_.at(file->name());
  }

 private:
  class FirstError;

  pb::DescriptorPool pool_;
  absl::flat_hash_map<std::string, std::string> files_;
  std::vector<std::string> services_;
};

// Keeps the first error of a file that does not build.
class ReflectionIndex::FirstError final : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name,
                const pb::Message* descriptor, ErrorLocation location,
                const std::string& message) override {
    if (error.empty()) error = absl::StrCat(filename, ": ", element_name, ": ", message);
  }
  std::string error;
};

absl::StatusOr<std::shared_ptr<const ReflectionIndex>> ReflectionIndex::Build(
    absl::string_view descriptor_set, std::vector<std::string> services) {
  pb::FileDescriptorSet set;
  if (!set.ParseFromArray(descriptor_set.data(), static_cast<int>(descriptor_set.size()))) {
    return absl::InternalError("reflection: the embedded descriptor set does not parse");
  }
  auto index = std::make_shared<ReflectionIndex>();
  // protoc writes a file after its imports, so each file builds on those before it.
  for (const pb::FileDescriptorProto& file : set.file()) {
    FirstError errors;
    if (index->pool_.BuildFileCollectingErrors(file, &errors) == nullptr) {
      return absl::InternalError(absl::StrCat("reflection: descriptor set: ", errors.error));
    }
    // Kept as protoc wrote it: with its comments.
    index->files_[file.name()] = file.SerializeAsString();
  }
  // list_services must only name what file_containing_symbol can describe.
  for (const std::string& service : services) {
    if (index->pool_.FindServiceByName(service) == nullptr) {
      return absl::InternalError(
          absl::StrCat("reflection: service ", service, " is not in the descriptor set"));
    }
  }
  index->services_ = std::move(services);
  return index;
}

namespace {

// The file holding `symbol` (a message, enum, service, method, field, ...).
absl::StatusOr<const pb::FileDescriptor*> FileContainingSymbol(const pb::DescriptorPool& pool,
                                                               const std::string& symbol) {
  const pb::FileDescriptor* file = pool.FindFileContainingSymbol(symbol);
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("symbol not found: ", symbol));
  return file;
}

absl::StatusOr<const pb::FileDescriptor*> FileByName(const pb::DescriptorPool& pool,
                                                     const std::string& name) {
  const pb::FileDescriptor* file = pool.FindFileByName(name);
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("file not found: ", name));
  return file;
}

absl::StatusOr<const pb::Descriptor*> MessageType(const pb::DescriptorPool& pool,
                                                  const std::string& name) {
  const pb::Descriptor* type = pool.FindMessageTypeByName(name);
  if (type == nullptr) return absl::NotFoundError(absl::StrCat("message type not found: ", name));
  return type;
}

absl::StatusOr<const pb::FileDescriptor*> FileContainingExtension(const pb::DescriptorPool& pool,
                                                                  const std::string& type_name,
                                                                  int number) {
  absl::StatusOr<const pb::Descriptor*> type = MessageType(pool, type_name);
  if (!type.ok()) return type.status();
  const pb::FieldDescriptor* extension = pool.FindExtensionByNumber(*type, number);
  if (extension == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("extension not found: ", type_name, " field ", number));
  }
  return extension->file();
}

// Fills one answer to `request`. `sent` holds the files already sent on the
// stream: the file asked for is always sent (an empty answer would leave the
// client with nothing to show), its transitive dependencies only once per
// stream, as the protocol allows.
template <typename Request, typename Response>
Response Answer(const ReflectionIndex& index, const Request& request,
                absl::flat_hash_set<std::string>& sent) {
  Response response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  const pb::DescriptorPool& pool = index.pool();

  auto send_files = [&](const pb::FileDescriptor* file) {
    auto* files = response.mutable_file_descriptor_response();
    sent.insert(file->name());
    files->add_file_descriptor_proto(index.FileBytes(file));
    // Breadth first from the file asked for; a file's imports are in the pool
    // whenever the file is.
    std::deque<const pb::FileDescriptor*> pending = {file};
    while (!pending.empty()) {
      const pb::FileDescriptor* next = pending.front();
      pending.pop_front();
      for (int i = 0; i < next->dependency_count(); ++i) {
        const pb::FileDescriptor* dependency = next->dependency(i);
        if (!sent.insert(dependency->name()).second) continue;
        files->add_file_descriptor_proto(index.FileBytes(dependency));
        pending.push_back(dependency);
      }
    }
  };
  auto send_file_or_error = [&](absl::StatusOr<const pb::FileDescriptor*> file) {
    if (file.ok()) {
      send_files(*file);
      return;
    }
    auto* error = response.mutable_error_response();
    error->set_error_code(file.status().raw_code());
    error->set_error_message(std::string(file.status().message()));
  };

  switch (request.message_request_case()) {
    case Request::kFileByFilename:
      send_file_or_error(FileByName(pool, request.file_by_filename()));
      break;
    case Request::kFileContainingSymbol:
      send_file_or_error(FileContainingSymbol(pool, request.file_containing_symbol()));
      break;
    case Request::kFileContainingExtension:
      send_file_or_error(
          FileContainingExtension(pool, request.file_containing_extension().containing_type(),
                                  request.file_containing_extension().extension_number()));
      break;
    case Request::kAllExtensionNumbersOfType: {
      absl::StatusOr<const pb::Descriptor*> type =
          MessageType(pool, request.all_extension_numbers_of_type());
      if (!type.ok()) {
        auto* error = response.mutable_error_response();
        error->set_error_code(type.status().raw_code());
        error->set_error_message(std::string(type.status().message()));
        break;
      }
      auto* numbers = response.mutable_all_extension_numbers_response();
      numbers->set_base_type_name((*type)->full_name());
      std::vector<const pb::FieldDescriptor*> extensions;
      pool.FindAllExtensions(*type, &extensions);
      for (const pb::FieldDescriptor* extension : extensions) {
        numbers->add_extension_number(extension->number());
      }
      break;
    }
    case Request::kListServices: {
      auto* list = response.mutable_list_services_response();
      for (const std::string& name : index.services()) list->add_service()->set_name(name);
      break;
    }
    default: {
      // An empty request, or a kind this server does not know.
      auto* error = response.mutable_error_response();
      error->set_error_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
      error->set_error_message("no message_request set, or one this server does not know");
      break;
    }
  }
  return response;
}

}  // namespace

// What Shutdown() needs of a stream.
class ReflectionStream {
 public:
  virtual ~ReflectionStream() = default;
  // Stops reading; the stream ends once its queued answers are written.
  virtual void End() = 0;
};

// One ServerReflectionInfo stream, for either version of the protocol.
// Reads a request, answers it into a queue, and reads the next while the
// queue is short; writes the queue one answer at a time. gRPC operations are
// started outside the lock: a reaction may run on another thread at once.
template <typename Request, typename Response>
class ReflectionReactor final : public grpc::ServerBidiReactor<Request, Response>,
                                public ReflectionStream {
 public:
  explicit ReflectionReactor(ReflectionService* owner) : owner_(owner) {
    if (!owner_->Track(this)) {
      absl::MutexLock lock(&mu_);
      end_status_ = ShuttingDown();
      ending_ = true;
    }
    Step();
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      // No other read can start until reading_ is cleared, so request_ is ours.
      Response answer = Answer<Request, Response>(*owner_->index_, request_, sent_);
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!abandoned_) queue_.push_back(std::move(answer));
    } else {
      // The client half-closed (or the call is over): answer what is queued, then end.
      absl::MutexLock lock(&mu_);
      reading_ = false;
      ending_ = true;
    }
    Step();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      queue_.pop_front();
      if (!ok) Abandon(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    }
    Step();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      Abandon(grpc::Status::CANCELLED);
    }
    Step();
  }

  void End() override {
    {
      absl::MutexLock lock(&mu_);
      if (!ending_) end_status_ = ShuttingDown();
      ending_ = true;
    }
    Step();
  }

  void OnDone() override {
    owner_->Forget(this);
    delete this;
  }

 private:
  // Keeps reading while fewer answers than this wait to be written.
  static constexpr std::size_t kMaxQueued = 8;

  static grpc::Status ShuttingDown() {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down");
  }

  // The client is gone: drop what is queued but the write in flight.
  void Abandon(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (abandoned_) return;
    end_status_ = std::move(status);
    abandoned_ = ending_ = true;
    queue_.erase(queue_.begin() + (writing_ ? 1 : 0), queue_.end());
  }

  // Starts whatever the state calls for: the next write, the next read, or Finish.
  void Step() ABSL_LOCKS_EXCLUDED(mu_) {
    const Response* write = nullptr;
    bool read = false, finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (!writing_ && !queue_.empty()) {
        writing_ = true;
        // A deque keeps the front in place while answers are appended.
        write = &queue_.front();
      }
      if (!ending_ && !reading_ && queue_.size() < kMaxQueued) {
        reading_ = read = true;
      }
      if (ending_ && !writing_ && queue_.empty()) {
        finished_ = finish = true;
        status = end_status_;
      }
    }
    if (write != nullptr) this->StartWrite(write);
    if (read) this->StartRead(&request_);
    // A read still pending completes with ok=false once the call is finished.
    if (finish) this->Finish(status);
  }

  ReflectionService* const owner_;
  // Used by one read at a time, and by the answer to it.
  Request request_;
  absl::flat_hash_set<std::string> sent_;
  absl::Mutex mu_;
  std::deque<Response> queue_ ABSL_GUARDED_BY(mu_);  // the front is being written if writing_
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;  // no more reads
  bool abandoned_ ABSL_GUARDED_BY(mu_) = false;  // no more answers either
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
};

class ReflectionService::V1 final
    : public grpc::reflection::v1::ServerReflection::CallbackService {
 public:
  explicit V1(ReflectionService* owner) : owner_(owner) {}
  grpc::ServerBidiReactor<grpc::reflection::v1::ServerReflectionRequest,
                          grpc::reflection::v1::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override {
    return new ReflectionReactor<grpc::reflection::v1::ServerReflectionRequest,
                                 grpc::reflection::v1::ServerReflectionResponse>(owner_);
  }

 private:
  ReflectionService* const owner_;
};

class ReflectionService::V1Alpha final
    : public grpc::reflection::v1alpha::ServerReflection::CallbackService {
 public:
  explicit V1Alpha(ReflectionService* owner) : owner_(owner) {}
  grpc::ServerBidiReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                          grpc::reflection::v1alpha::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override {
    return new ReflectionReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                                 grpc::reflection::v1alpha::ServerReflectionResponse>(owner_);
  }

 private:
  ReflectionService* const owner_;
};

absl::StatusOr<std::unique_ptr<ReflectionService>> ReflectionService::Create(
    absl::string_view descriptor_set, std::vector<std::string> services) {
  absl::StatusOr<std::shared_ptr<const ReflectionIndex>> index =
      ReflectionIndex::Build(descriptor_set, std::move(services));
  if (!index.ok()) return index.status();
  return std::unique_ptr<ReflectionService>(new ReflectionService(*std::move(index)));
}

ReflectionService::ReflectionService(std::shared_ptr<const ReflectionIndex> index)
    : index_(std::move(index)),
      v1_(std::make_unique<V1>(this)),
      v1alpha_(std::make_unique<V1Alpha>(this)) {}

ReflectionService::~ReflectionService() = default;

grpc::Service* ReflectionService::v1() { return v1_.get(); }
grpc::Service* ReflectionService::v1alpha() { return v1alpha_.get(); }

void ReflectionService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (ReflectionStream* stream : streams_) stream->End();
}

bool ReflectionService::Track(ReflectionStream* stream) {
  absl::MutexLock lock(&mu_);
  // Tracked either way, so that OnDone's Forget matches.
  streams_.insert(stream);
  return !shut_down_;
}

void ReflectionService::Forget(ReflectionStream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
}

}  // namespace dcr::reflection
