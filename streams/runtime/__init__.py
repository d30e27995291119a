"""The stage runtime every loop runs on: `loop` (fetch, process, commit; positions, rebalances,
failures), `checkpoint` (the one commit protocol), `state_store` (changelog-backed state and
input positions), `sink` (where sink loops write, with backpressure), `dead_letters`, `stall`
(the stall watchdog), `supervisor` (lifecycle), `health` (the health endpoint) and `context`
(what a stage gets)."""
