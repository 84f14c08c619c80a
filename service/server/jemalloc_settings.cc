// jemalloc's settings for dcr-gateway, read by jemalloc at start-up from this
// symbol (MALLOC_CONF in the environment still overrides them). Chosen by
// measurement (README "Memory and overload"): after a burst, glibc's malloc
// kept the burst's peak resident for good, while with these an idle gateway
// is back near its baseline within a second.
//   background_thread, max_background_threads:1: one thread returns freed
//     pages, so no caller waits on it.
//   dirty_decay_ms:1000: freed pages go back to the system after about 1 s.
//   muzzy_decay_ms:0: and are not kept in between.
//   oversize_threshold:65536: blocks of 64 KiB and more (the largest
//     requests, their JSON and Authlete's answers) come from jemalloc's own
//     arena for huge blocks, which returns them to the system at once. Kept
//     for a second, a flood of refused 65 KB Registers left its freed pages
//     resident: integration.flood peaked at 145-152 MiB, against 91-93 MiB
//     with this, with the same CPU per call in the efficiency scenario.
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's.
const char* malloc_conf =
    "background_thread:true,max_background_threads:1,dirty_decay_ms:1000,muzzy_decay_ms:0,"
    "oversize_threshold:65536";
}
