// Server reflection as grpcurl drives it, through the generated stubs of both
// protocol versions (grpc.reflection.v1 and v1alpha): the listed services, the
// descriptors with their comments and dependencies, every symbol of our protos,
// errors, ordering on one stream, cancel and shutdown.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>

#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway_test_env.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "service/reflection/descriptor_set_bytes.h"

namespace dcr::testing {
namespace {

namespace pb = google::protobuf;

struct V1 {
  using Service = grpc::reflection::v1::ServerReflection;
  using Request = grpc::reflection::v1::ServerReflectionRequest;
  using Response = grpc::reflection::v1::ServerReflectionResponse;
};
struct V1Alpha {
  using Service = grpc::reflection::v1alpha::ServerReflection;
  using Request = grpc::reflection::v1alpha::ServerReflectionRequest;
  using Response = grpc::reflection::v1alpha::ServerReflectionResponse;
};

constexpr int kNotFound = 5;
constexpr int kInvalidArgument = 3;

// One ServerReflectionInfo stream with a deadline.
template <typename Version>
class Stream {
 public:
  using Request = typename Version::Request;
  using Response = typename Version::Response;

  explicit Stream(GatewayTestEnv& env, absl::Duration timeout = absl::Seconds(10))
      : stub_(Version::Service::NewStub(env.channel())),
        context_(Context(timeout)),
        stream_(stub_->ServerReflectionInfo(context_.get())) {}

  // Sends one request and reads its answer; nullopt if the stream broke.
  absl::optional<Response> Ask(const Request& request) {
    if (!stream_->Write(request)) return absl::nullopt;
    Response response;
    if (!stream_->Read(&response)) return absl::nullopt;
    return response;
  }
  bool Write(const Request& request) { return stream_->Write(request); }
  bool Read(Response* response) { return stream_->Read(response); }
  grpc::Status Close() {
    stream_->WritesDone();
    Response extra;
    while (stream_->Read(&extra)) ++unexpected_;
    return stream_->Finish();
  }
  grpc::ClientContext& context() { return *context_; }
  int unexpected() const { return unexpected_; }

 private:
  std::unique_ptr<typename Version::Service::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream_;
  int unexpected_ = 0;
};

template <typename Request>
Request Symbol(const std::string& symbol) {
  Request request;
  request.set_host("127.0.0.1");
  request.set_file_containing_symbol(symbol);
  return request;
}
template <typename Request>
Request Filename(const std::string& name) {
  Request request;
  request.set_file_by_filename(name);
  return request;
}
template <typename Request>
Request ListServices() {
  Request request;
  request.set_list_services("*");
  return request;
}

// The files of an answer, by name.
template <typename Response>
std::map<std::string, pb::FileDescriptorProto> FilesOf(const Response& response) {
  std::map<std::string, pb::FileDescriptorProto> files;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    pb::FileDescriptorProto file;
    EXPECT_TRUE(file.ParseFromString(bytes));
    files[file.name()] = file;
  }
  return files;
}

// The names of the files first in the embedded descriptor set, that is proto/
// rather than the google/protobuf imports.
std::vector<pb::FileDescriptorProto> OurFiles() {
  pb::FileDescriptorSet set;
  absl::string_view bytes = reflection::DescriptorSetBytes();
  EXPECT_TRUE(set.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  std::vector<pb::FileDescriptorProto> files;
  for (const pb::FileDescriptorProto& file : set.file()) {
    if (!absl::StartsWith(file.name(), "google/protobuf/")) files.push_back(file);
  }
  return files;
}

// Every message (nested too) and enum of a file, and its services and methods.
void SymbolsOf(const std::string& scope, const pb::DescriptorProto& message,
               std::vector<std::string>* symbols) {
  const std::string name = absl::StrCat(scope, ".", message.name());
  symbols->push_back(name);
  for (const auto& nested : message.nested_type()) {
    if (!nested.options().map_entry()) SymbolsOf(name, nested, symbols);
  }
  for (const auto& e : message.enum_type()) symbols->push_back(absl::StrCat(name, ".", e.name()));
}
std::vector<std::string> SymbolsOf(const pb::FileDescriptorProto& file) {
  std::vector<std::string> symbols;
  for (const auto& message : file.message_type()) SymbolsOf(file.package(), message, &symbols);
  for (const auto& e : file.enum_type()) symbols.push_back(absl::StrCat(file.package(), ".", e.name()));
  for (const auto& service : file.service()) {
    const std::string name = absl::StrCat(file.package(), ".", service.name());
    symbols.push_back(name);
    for (const auto& method : service.method()) symbols.push_back(absl::StrCat(name, ".", method.name()));
  }
  return symbols;
}

template <typename Version>
class ReflectionServiceTest : public ::testing::Test {
 protected:
  using Request = typename Version::Request;
  using Response = typename Version::Response;

  void SetUp() override {
    auto env = GatewayTestEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
  }

  std::unique_ptr<GatewayTestEnv> env_;
};

using Versions = ::testing::Types<V1, V1Alpha>;
TYPED_TEST_SUITE(ReflectionServiceTest, Versions);

TYPED_TEST(ReflectionServiceTest, ListsExactlyTheRegisteredServices) {
  using Request = typename TypeParam::Request;
  Stream<TypeParam> stream(*this->env_);
  auto response = stream.Ask(ListServices<Request>());
  ASSERT_TRUE(response.has_value());
  ASSERT_TRUE(response->has_list_services_response()) << response->DebugString();
  std::vector<std::string> names;
  for (const auto& service : response->list_services_response().service()) {
    names.push_back(service.name());
  }
  EXPECT_THAT(names, ::testing::UnorderedElementsAre(
                         "dcr.v1.ClientRegistrationService", "grpc.health.v1.Health",
                         "grpc.reflection.v1.ServerReflection",
                         "grpc.reflection.v1alpha.ServerReflection"));
  EXPECT_TRUE(response->original_request().has_list_services());
  EXPECT_TRUE(stream.Close().ok());
  EXPECT_EQ(stream.unexpected(), 0);
}

TYPED_TEST(ReflectionServiceTest, ClientMetadataComesWithFieldCommentsAndDependencies) {
  using Request = typename TypeParam::Request;
  Stream<TypeParam> stream(*this->env_);
  auto response = stream.Ask(Symbol<Request>("dcr.v1.ClientMetadata"));
  ASSERT_TRUE(response.has_value());
  ASSERT_TRUE(response->has_file_descriptor_response()) << response->DebugString();
  EXPECT_EQ(response->valid_host(), "127.0.0.1");
  EXPECT_EQ(response->original_request().file_containing_symbol(), "dcr.v1.ClientMetadata");
  // The file declaring the symbol comes first.
  pb::FileDescriptorProto first;
  ASSERT_TRUE(first.ParseFromString(response->file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(first.name(), "dcr/v1/client_metadata.proto");
  EXPECT_TRUE(first.has_source_code_info());

  // Every dependency is in the answer or resolves by name.
  std::map<std::string, pb::FileDescriptorProto> files = FilesOf(*response);
  std::vector<std::string> missing;
  for (const auto& [name, file] : files) {
    for (const std::string& dependency : file.dependency()) {
      if (!files.count(dependency)) missing.push_back(dependency);
    }
  }
  while (!missing.empty()) {
    const std::string name = missing.back();
    missing.pop_back();
    if (files.count(name)) continue;
    auto more = stream.Ask(Filename<Request>(name));
    ASSERT_TRUE(more.has_value());
    ASSERT_TRUE(more->has_file_descriptor_response()) << name << ": " << more->DebugString();
    for (const auto& [more_name, file] : FilesOf(*more)) {
      files[more_name] = file;
      for (const std::string& dependency : file.dependency()) missing.push_back(dependency);
    }
  }
  EXPECT_TRUE(files.count("google/protobuf/struct.proto"));

  // The files build into a pool, as grpcurl builds them, and the field's
  // documentation is there.
  pb::SimpleDescriptorDatabase database;
  for (const auto& [name, file] : files) ASSERT_TRUE(database.Add(file)) << name;
  pb::DescriptorPool pool(&database);
  const pb::Descriptor* metadata = pool.FindMessageTypeByName("dcr.v1.ClientMetadata");
  ASSERT_NE(metadata, nullptr);
  const pb::FieldDescriptor* redirect_uris = metadata->FindFieldByName("redirect_uris");
  ASSERT_NE(redirect_uris, nullptr);
  pb::SourceLocation location;
  ASSERT_TRUE(redirect_uris->GetSourceLocation(&location));
  EXPECT_THAT(location.leading_comments, ::testing::HasSubstr("Redirection URIs"));
  ASSERT_TRUE(metadata->GetSourceLocation(&location));
  EXPECT_FALSE(location.leading_comments.empty());
  EXPECT_TRUE(stream.Close().ok());
}

TYPED_TEST(ReflectionServiceTest, EverySymbolOfOurProtosResolves) {
  using Request = typename TypeParam::Request;
  Stream<TypeParam> stream(*this->env_);
  std::vector<pb::FileDescriptorProto> ours = OurFiles();
  ASSERT_GE(ours.size(), 8u);
  std::vector<std::string> all;
  for (const pb::FileDescriptorProto& file : ours) {
    for (const std::string& symbol : SymbolsOf(file)) {
      all.push_back(symbol);
      auto response = stream.Ask(Symbol<Request>(symbol));
      ASSERT_TRUE(response.has_value()) << symbol;
      ASSERT_TRUE(response->has_file_descriptor_response()) << symbol << ": " << response->DebugString();
      pb::FileDescriptorProto first;
      ASSERT_TRUE(first.ParseFromString(response->file_descriptor_response().file_descriptor_proto(0)));
      EXPECT_EQ(first.name(), file.name()) << symbol;
    }
  }
  // Named in the brief of this service: the Any detail type grpcurl resolves,
  // health, and a field symbol.
  EXPECT_THAT(all, ::testing::IsSupersetOf({"dcr.v1.RegistrationError", "grpc.health.v1.Health",
                                             "google.rpc.Status"}));
  auto field = stream.Ask(Symbol<Request>("dcr.v1.ClientMetadata.redirect_uris"));
  ASSERT_TRUE(field.has_value());
  EXPECT_TRUE(field->has_file_descriptor_response()) << field->DebugString();
  EXPECT_TRUE(stream.Close().ok());
}

TYPED_TEST(ReflectionServiceTest, UnknownNamesAreNotFoundAndTheStreamGoesOn) {
  using Request = typename TypeParam::Request;
  Stream<TypeParam> stream(*this->env_);
  auto expect_error = [&](const Request& request, int code) {
    auto response = stream.Ask(request);
    ASSERT_TRUE(response.has_value()) << request.DebugString();
    ASSERT_TRUE(response->has_error_response()) << response->DebugString();
    EXPECT_EQ(response->error_response().error_code(), code) << request.DebugString();
    EXPECT_FALSE(response->error_response().error_message().empty());
    EXPECT_EQ(response->original_request().SerializeAsString(), request.SerializeAsString());
  };
  expect_error(Symbol<Request>("no.such.Type"), kNotFound);
  expect_error(Symbol<Request>(""), kNotFound);
  expect_error(Symbol<Request>(std::string(10000, '.')), kNotFound);
  expect_error(Filename<Request>("no/such.proto"), kNotFound);
  expect_error(Filename<Request>("../../etc/passwd"), kNotFound);
  Request extension;
  extension.mutable_file_containing_extension()->set_containing_type("dcr.v1.ClientMetadata");
  extension.mutable_file_containing_extension()->set_extension_number(100);
  expect_error(extension, kNotFound);
  extension.mutable_file_containing_extension()->set_containing_type("no.such.Type");
  expect_error(extension, kNotFound);
  Request numbers;
  numbers.set_all_extension_numbers_of_type("no.such.Type");
  expect_error(numbers, kNotFound);
  expect_error(Request(), kInvalidArgument);

  // Our protos define no extensions: a known type has an empty list.
  numbers.set_all_extension_numbers_of_type("dcr.v1.ClientMetadata");
  auto response = stream.Ask(numbers);
  ASSERT_TRUE(response.has_value());
  ASSERT_TRUE(response->has_all_extension_numbers_response()) << response->DebugString();
  EXPECT_EQ(response->all_extension_numbers_response().base_type_name(), "dcr.v1.ClientMetadata");
  EXPECT_EQ(response->all_extension_numbers_response().extension_number_size(), 0);

  auto list = stream.Ask(ListServices<Request>());
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->list_services_response().service_size(), 4);
  EXPECT_TRUE(stream.Close().ok());
}

TYPED_TEST(ReflectionServiceTest, ManyRequestsOnOneStreamAreAnsweredInOrder) {
  using Request = typename TypeParam::Request;
  using Response = typename TypeParam::Response;
  Stream<TypeParam> stream(*this->env_);
  // More than the server queues before it stops reading, all written before
  // any answer is read, then the half-close.
  std::vector<Request> requests;
  for (int i = 0; i < 10; ++i) {
    requests.push_back(Symbol<Request>("dcr.v1.ClientMetadata"));
    requests.push_back(Symbol<Request>(absl::StrCat("no.such.Type", i)));
    requests.push_back(ListServices<Request>());
    requests.push_back(Filename<Request>("dcr/v1/registration_error.proto"));
  }
  for (const Request& request : requests) ASSERT_TRUE(stream.Write(request));
  std::set<std::string> sent;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    Response response;
    ASSERT_TRUE(stream.Read(&response)) << i;
    ASSERT_EQ(response.original_request().SerializeAsString(), requests[i].SerializeAsString())
        << i;
    if (response.has_file_descriptor_response()) {
      // The file asked for is always there; a dependency comes once a stream.
      std::map<std::string, pb::FileDescriptorProto> files = FilesOf(response);
      const std::string& asked = requests[i].has_file_by_filename()
                                     ? requests[i].file_by_filename()
                                     : std::string("dcr/v1/client_metadata.proto");
      EXPECT_TRUE(files.count(asked)) << i;
      for (const auto& [name, file] : files) {
        if (name != asked) {
          EXPECT_TRUE(sent.insert(name).second) << name << " sent twice";
        }
      }
      sent.insert(asked);
    }
  }
  EXPECT_TRUE(stream.Close().ok());
  EXPECT_EQ(stream.unexpected(), 0);
}

TYPED_TEST(ReflectionServiceTest, CancelledStreamLeavesTheServiceWorking) {
  using Request = typename TypeParam::Request;
  {
    Stream<TypeParam> stream(*this->env_);
    for (int i = 0; i < 20; ++i) {
      if (!stream.Write(Symbol<Request>("dcr.v1.ClientMetadata"))) break;
    }
    stream.context().TryCancel();
    EXPECT_EQ(stream.Close().error_code(), grpc::StatusCode::CANCELLED);
  }
  Stream<TypeParam> stream(*this->env_);
  auto response = stream.Ask(ListServices<Request>());
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->list_services_response().service_size(), 4);
  EXPECT_TRUE(stream.Close().ok());
}

TYPED_TEST(ReflectionServiceTest, UndecodableRequestEndsOnlyItsStream) {
  using Request = typename TypeParam::Request;
  {
    // Invalid UTF-8 in a proto3 string: the server cannot decode the request.
    // The callback API reports that as a failed read, like a half-close, so
    // the stream ends without an answer.
    Stream<TypeParam> stream(*this->env_);
    stream.Write(Symbol<Request>("dcr.v1.\xff\xfe"));
    stream.Close();
    EXPECT_EQ(stream.unexpected(), 0);
  }
  Stream<TypeParam> stream(*this->env_);
  auto response = stream.Ask(ListServices<Request>());
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->list_services_response().service_size(), 4);
  EXPECT_TRUE(stream.Close().ok());
}

TYPED_TEST(ReflectionServiceTest, ShutdownEndsAnIdleStreamAtOnce) {
  using Request = typename TypeParam::Request;
  Stream<TypeParam> stream(*this->env_);
  ASSERT_TRUE(stream.Ask(ListServices<Request>()).has_value());
  const absl::Time start = absl::Now();
  std::thread stopper([&] { this->env_->gateway().Shutdown(absl::Seconds(20)); });
  typename TypeParam::Response response;
  EXPECT_FALSE(stream.Read(&response));
  stopper.join();
  // Well within the grace period: the idle stream did not hold shutdown open.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(stream.Close().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace dcr::testing
