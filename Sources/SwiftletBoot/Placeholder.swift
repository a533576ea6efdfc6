// SwiftletBoot: placeholder until its first file lands.
