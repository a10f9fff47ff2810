"""Providers emulated, for the tests, the demo and the benchmarks: never run in production.

Here is what every provider's emulator shares (the HTTP kit, the mutation API, the
activity simulator); each provider's own emulator and seeded data set are in its folder's
`emulated/`. The server reaches an emulator only through a provider's `spec.py` (its
`emulated` part, imported when called) and the demo command; a layout test keeps every
other product module from importing these packages.
"""
