"""The execution engine: what the run state machine's Lambda steps do.

- `runner`   — the actions the state machine invokes: advance (claim, run a batch of
               inline steps, stop at a pause or the end), await (park an approval's
               task token), fail (the catch-all);
- `plan`     — pure: which steps run in one invocation and where the machine goes next;
- `steps/`   — one module per step kind behind one interface;
- `results`  — per-step results under the run's partition (STEP#<index> items);
- `journal`  — per-step log entries, written as they come, published once per invocation;
- `reconcile`— Step Functions "Execution Status Change" → FAILED for runs left active.

docs/engine.md explains the machine's shape, the transitions per run, retries,
timeouts and cancellation.
"""
