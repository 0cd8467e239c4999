// Placeholder: the OpenFunction stand-in (see /work/shared/spec/openfunction.md) is being written.
print("sluice-function: not built yet")
