"""The execution engine: what the run state machine's Lambda steps do.

- `runner`   — `Engine`, the actions the state machine invokes: advance (claim, run
               batches of inline steps, stop at a pause or the end), await (park an
               approval's task token), fail (the catch-all);
- `ports`    — `RunStore`, everything the engine reads and writes about a run
               (implemented on DynamoDB by runhook.dal.run_store); each change it
               commits carries the event it announces (the outbox: runhook.outbox);
- `policy`   — pure retry and time-budget rules;
- `attempts` — one inline step, attempt after attempt; `recorder` — records, progress,
               the end; `failure` — the one `fail_run`;
- `plan`     — pure: which steps run in one invocation and where the machine goes next;
- `steps/`   — one module per step kind behind one interface;
- `journal`  — per-step log entries, stored as they come (published from the stream);
- `reconcile`— Step Functions "Execution Status Change" → FAILED for runs left active;
- `factory`  — `EngineDependencies`: an engine (or reconciler) from its dependencies.

docs/engine.md explains the machine's shape, the transitions per run, retries,
timeouts, cancellation and the seams.
"""
