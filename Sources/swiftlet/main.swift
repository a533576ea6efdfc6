print("swiftlet: not yet")
