// jemalloc's settings for dcr-gateway, read by jemalloc at start-up from this
// symbol (MALLOC_CONF in the environment still overrides them). Chosen by
// measurement (README "Memory and overload"): after a burst, glibc's malloc
// kept the burst's peak resident for good, while with these an idle gateway
// is back near its baseline within a second.
//   background_thread, max_background_threads:1: one thread returns freed
//     pages, so no caller waits on it.
//   dirty_decay_ms:1000: freed pages go back to the system after about 1 s.
//   muzzy_decay_ms:0: and are not kept in between.
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's.
const char* malloc_conf =
    "background_thread:true,max_background_threads:1,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
