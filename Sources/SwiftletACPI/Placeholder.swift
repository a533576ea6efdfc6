// SwiftletACPI: placeholder until its first file lands.
