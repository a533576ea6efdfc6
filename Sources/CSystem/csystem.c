// Intentionally empty: everything lives in include/csystem.h.
