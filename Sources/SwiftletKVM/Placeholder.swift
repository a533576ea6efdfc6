// SwiftletKVM: placeholder until its first file lands.
