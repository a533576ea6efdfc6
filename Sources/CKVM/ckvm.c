// Intentionally empty: everything lives in include/ckvm.h.
