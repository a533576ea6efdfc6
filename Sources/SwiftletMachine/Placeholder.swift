// SwiftletMachine: placeholder until its first file lands.
