// SwiftletTestSupport: placeholder until its first file lands.
