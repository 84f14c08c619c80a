// A loopback TCP port the kernel just called free (bind port 0, read it,
// close), for a server that cannot bind port 0 itself (redis-server) or
// whose URL must be known before it starts (the public registration
// endpoint, named in Authlete's registration_client_uri). Another process
// could take it before it is bound again; callers that can, retry.
#ifndef DCR_TESTS_TESTING_FREE_PORT_H_
#define DCR_TESTS_TESTING_FREE_PORT_H_

namespace dcr::testing {

// 0 if none could be had.
int PickFreeLoopbackPort();

}  // namespace dcr::testing

#endif  // DCR_TESTS_TESTING_FREE_PORT_H_
