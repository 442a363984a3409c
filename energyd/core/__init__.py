"""The core: running providers, fetching, settings and overrides, the store, the scheduler and
run-time faults. Imports the domain and the provider contract; never a transport."""
