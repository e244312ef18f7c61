"""runhook's benchmarks and cost model (`make bench`, or `python -m benchmarks`).

Each benchmark lives in its own module and runs in a fresh process; the runner
(`benchmarks.__main__`) prints one table per benchmark, each beside a baseline
measured in the same run. Pure helpers (statistics, tables, prices, call counting)
are unit-tested in tests/unit/bench. Nothing here is collected by pytest or deployed.
"""
