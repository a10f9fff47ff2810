"""What emulates Boxpressd for the tests, the demo and the benchmarks: its emulator, the seeded
data set it serves and the changes it takes. The server reaches them only through
`server/providers/boxpressd/spec.py`."""
