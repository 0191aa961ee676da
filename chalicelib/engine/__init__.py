"""The pure rules engine: no I/O, no clock reads (time is always a parameter).

Modules: `behaviours` (matching and limits), `rewards` (cascade, progress, revocation),
`wallet` (ledger arithmetic), `periods` (calendar boundaries in a site's zone), `kpis`,
`leaderboards`, `validation` (mechanics that cannot work), `errors` (domain errors named
after the API's FAILED activity error types). See docs/engine.md.
"""
